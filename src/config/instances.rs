//! Several instances of one service, each on its own GPU (one Ollama per card):
//!
//! ```yaml
//! services:
//!   ollama:
//!     default_model: llama3.1:8b
//!     instances:
//!       - {host: "http://127.0.0.1:11434", gpu: 0}
//!       - {host: "http://127.0.0.1:11435", gpu: 1}
//! ```
//!
//! Each instance takes the service's other settings; `gpu` names its card (an index or a
//! UUID, or a list for an instance that spans some). A service without `instances` is one
//! instance at its `host`, spread over every card (what a single Ollama does by default).

use serde_json::{Map, Value};

/// One instance of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// What it is called where instances are told apart: the service's own name for a
    /// service of one, else `NAME#i` (`ollama#1`).
    pub name: String,
    pub host: String,
    /// The cards it serves from (indexes or UUIDs as written); empty: all of them.
    pub gpus: Vec<String>,
}

/// The instances of service `name` (its configuration `service`); none without a host.
pub fn instances(name: &str, service: &Map<String, Value>) -> Vec<Instance> {
    let host = |v: &Value| v.get("host").and_then(Value::as_str).map(|h| h.trim_end_matches('/').to_string());
    let Some(list) = service.get("instances").and_then(Value::as_array).filter(|l| !l.is_empty()) else {
        return host(&Value::Object(service.clone()))
            .map(|h| Instance { name: name.into(), host: h, gpus: Vec::new() })
            .into_iter()
            .collect();
    };
    list.iter()
        .enumerate()
        .filter_map(|(i, inst)| {
            let gpus = match inst.get("gpu") {
                Some(Value::Array(a)) => a.iter().filter_map(card_text).collect(),
                Some(v) => card_text(v).into_iter().collect(),
                None => Vec::new(),
            };
            Some(Instance { name: format!("{name}#{i}"), host: host(inst)?, gpus })
        })
        .collect()
}

fn card_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

/// The service an instance name belongs to (`ollama#1` -> `ollama`).
pub fn service_of(instance: &str) -> &str {
    instance.split_once('#').map_or(instance, |(s, _)| s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_service_is_one_instance_on_every_card_or_the_instances_it_lists() {
        let one = json!({"host": "http://h:11434/", "default_model": "m"});
        assert_eq!(
            instances("ollama", one.as_object().unwrap()),
            [Instance { name: "ollama".into(), host: "http://h:11434".into(), gpus: vec![] }]
        );
        let two = json!({"host": "http://ignored", "instances": [{"host": "http://a:1", "gpu": 0}, {"host": "http://b:2", "gpu": "GPU-x"},
                                                                   {"host": "http://c:3", "gpu": [2, 3]}, {"gpu": 4}]});
        let got: Vec<(String, String, Vec<String>)> =
            instances("ollama", two.as_object().unwrap()).into_iter().map(|i| (i.name, i.host, i.gpus)).collect();
        assert_eq!(
            got,
            [
                ("ollama#0".to_string(), "http://a:1".to_string(), vec!["0".to_string()]),
                ("ollama#1".into(), "http://b:2".into(), vec!["GPU-x".into()]),
                ("ollama#2".into(), "http://c:3".into(), vec!["2".into(), "3".into()]),
            ],
            "an instance without a host is left out"
        );
        assert_eq!(service_of("ollama#1"), "ollama");
        assert_eq!(service_of("ollama"), "ollama");
    }
}

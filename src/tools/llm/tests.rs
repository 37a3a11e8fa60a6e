//! The LLM tool against stand-in servers started here on 127.0.0.1. Ollama and
//! the OpenAI-compatible servers cannot run in tests (no weights), so each
//! stand-in answers with the documented request and response shapes of its
//! API, including streaming, errors, slow answers and dropped connections.

use super::*;
use crate::config::Config;
use crate::tools::stand_in::{ctx, reply, stand_in, Reply};
use std::sync::Arc;

fn tool(host: &str, api: &str, timeout: Option<f64>) -> Llm {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.yaml");
    let t = timeout.map(|t| format!("\n    timeout: {t}")).unwrap_or_default();
    std::fs::write(&f, format!("services:\n  ollama:\n    host: {host}\n    default_model: tiny:1b\n    api: {api}{t}\n")).unwrap();
    Llm::new(&Config::from_file(&f).unwrap())
}

fn inputs(v: Value) -> JsonMap {
    v.as_object().unwrap().clone()
}

fn ndjson(pieces: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = pieces
        .iter()
        .map(|p| format!("{}\n", json!({"model": "tiny:1b", "message": {"role": "assistant", "content": p}, "done": false})))
        .collect();
    out.push(format!(
        "{}\n",
        json!({"model": "tiny:1b", "done": true, "done_reason": "stop", "prompt_eval_count": 5, "eval_count": 3, "total_duration": 1000})
    ));
    out
}

#[tokio::test]
async fn generate_streams_ndjson_and_counts_tokens() {
    let (host, log) = stand_in(Arc::new(|path, _| match path {
        "/api/generate" => Reply { status: 200, chunks: ndjson(&["Hel", "lo", "!"]), delay_ms: 0, gap_ms: 20 },
        _ => reply(404, "{}"),
    }))
    .await;
    let out = tool(&host, "ollama", None).call("generate", inputs(json!({"prompt": "hi", "system": "be brief"})), &ctx()).await.unwrap();
    assert_eq!(out["response"], "Hello!");
    assert_eq!(out["sd_prompt"], "Hello!");
    assert_eq!(out["tokens"], json!({"prompt": 5, "completion": 3}));
    let (path, body) = log.lock().unwrap()[0].clone();
    assert_eq!(path, "/api/generate");
    assert_eq!(body, json!({"model": "tiny:1b", "prompt": "hi", "system": "be brief", "stream": true}));
}

#[tokio::test]
async fn unknown_model_lists_the_installed_ones() {
    let (host, _) = stand_in(Arc::new(|path, _| match path {
        "/api/generate" | "/api/chat" => reply(404, r#"{"error":"model 'huge:70b' not found"}"#),
        "/api/tags" => reply(200, r#"{"models":[{"name":"tiny:1b"},{"name":"llama3.2:3b"}]}"#),
        _ => reply(404, "{}"),
    }))
    .await;
    let e = tool(&host, "ollama", None).call("generate", inputs(json!({"prompt": "hi", "model": "huge:70b"})), &ctx()).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "model `huge:70b` is not available on `ollama` at {host} (it has: tiny:1b, llama3.2:3b); pull it with `ollama pull huge:70b`"
        )
    );
}

#[tokio::test]
async fn refused_connection_says_how_to_start_the_server() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port(); // closed again at once
    let e = tool(&format!("http://127.0.0.1:{port}"), "ollama", None)
        .call("generate", inputs(json!({"prompt": "hi"})), &ctx())
        .await
        .unwrap_err();
    let m = e.to_string();
    assert!(m.starts_with(&format!("cannot connect to `ollama` at http://127.0.0.1:{port}")), "{m}");
    assert!(m.contains("start it with `ollama serve`"), "{m}");
}

#[tokio::test]
async fn server_errors_slow_answers_and_dropped_streams() {
    let (host, _) = stand_in(Arc::new(|_, body| match body["prompt"].as_str().or(body["messages"][0]["content"].as_str()) {
        Some("500") => reply(500, r#"{"error":"out of memory"}"#),
        Some("slow") => Reply { status: 200, chunks: ndjson(&["late"]), delay_ms: 3000, gap_ms: 0 },
        _ => Reply { status: 200, chunks: ndjson(&["par", "tial"])[..2].to_vec(), delay_ms: 0, gap_ms: 0 },
    }))
    .await;
    let t = tool(&host, "ollama", Some(0.5));
    let e = t.call("generate", inputs(json!({"prompt": "500"})), &ctx()).await.unwrap_err();
    assert_eq!(e.to_string(), format!("`ollama` at {host} answered HTTP 500: out of memory"));
    let e = t.call("generate", inputs(json!({"prompt": "slow"})), &ctx()).await.unwrap_err();
    assert!(e.to_string().starts_with(&format!("no complete answer from `ollama` at {host} within 0.5s")), "{e}");
    let e = t.call("generate", inputs(json!({"prompt": "drop"})), &ctx()).await.unwrap_err();
    assert!(e.to_string().contains("closed the stream before the answer was complete (7 characters received)"), "{e}");
}

#[tokio::test]
async fn json_format_gives_the_parsed_value() {
    let (host, log) = stand_in(Arc::new(|_, body| {
        let answer = if body["format"] == "json" { r#"{"title": "x"}"# } else { "not json" };
        Reply { status: 200, chunks: ndjson(&[answer]), delay_ms: 0, gap_ms: 0 }
    }))
    .await;
    let t = tool(&host, "ollama", None);
    let out = t.call("chat", inputs(json!({"messages": [{"role": "user", "content": "q"}], "format": "json"})), &ctx()).await.unwrap();
    assert_eq!(out["json"], json!({"title": "x"}));
    assert_eq!(log.lock().unwrap()[0].1["format"], "json");
    let e = t.call("chat", inputs(json!({"prompt": "q", "format": {"type": "object"}})), &ctx()).await.unwrap_err();
    assert!(e.to_string().contains("`format` asked for JSON but the model answered text that is not JSON"), "{e}");
}

#[tokio::test]
async fn ollama_embeddings() {
    let (host, log) = stand_in(Arc::new(|_, _| reply(200, r#"{"model":"tiny:1b","embeddings":[[0.1,0.2,0.3],[0.4,0.5,0.6]]}"#))).await;
    let out = tool(&host, "ollama", None).call("embed", inputs(json!({"input": ["a", "b"]})), &ctx()).await.unwrap();
    assert_eq!(out["dimensions"], 3);
    assert_eq!(out["embeddings"][1], json!([0.4, 0.5, 0.6]));
    assert_eq!(log.lock().unwrap()[0], ("/api/embed".to_string(), json!({"model": "tiny:1b", "input": ["a", "b"]})));
}

#[tokio::test]
async fn openai_compatible_chat_embed_and_unknown_model() {
    let (host, log) = stand_in(Arc::new(|path, body| match (path, body["model"].as_str()) {
        ("/v1/models", _) => reply(200, r#"{"object":"list","data":[{"id":"smollm2"}]}"#),
        (_, Some("nope")) => reply(404, r#"{"error":{"message":"The model `nope` does not exist","type":"invalid_request_error","code":"model_not_found"}}"#),
        ("/v1/chat/completions", _) => reply(
            200,
            r#"{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Paris"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}"#,
        ),
        ("/v1/embeddings", _) => reply(200, r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.0,0.0]}]}"#),
        _ => reply(404, "{}"),
    }))
    .await;
    let t = tool(&host, "openai", None);
    let out =
        t.call("generate", inputs(json!({"prompt": "capital of France?", "format": "json", "options": {"temperature": 0}})), &ctx()).await;
    assert!(out.unwrap_err().to_string().contains("not JSON"), "Paris is not JSON");
    let out = t.call("generate", inputs(json!({"prompt": "capital of France?", "options": {"temperature": 0}})), &ctx()).await.unwrap();
    assert_eq!((out["response"].as_str(), out["done_reason"].as_str()), (Some("Paris"), Some("stop")));
    assert_eq!(out["tokens"], json!({"prompt": 9, "completion": 1}));
    let sent =
        log.lock().unwrap().iter().find(|(p, b)| p == "/v1/chat/completions" && b.get("response_format").is_none()).cloned().unwrap();
    assert_eq!(sent.1["temperature"], 0);
    let e = t.call("generate", inputs(json!({"prompt": "x", "model": "nope"})), &ctx()).await.unwrap_err();
    assert_eq!(e.to_string(), format!("model `nope` is not available on `ollama` at {host} (it has: smollm2)"));
    let emb = t.call("embed", inputs(json!({"input": "x"})), &ctx()).await.unwrap();
    assert_eq!(emb["embeddings"], json!([[1.0, 0.0]]));
    // Ollama's names: `num_predict` is OpenAI's `max_tokens`; a load option is refused.
    t.call("generate", inputs(json!({"prompt": "p", "num_predict": 5, "top_k": 3})), &ctx()).await.unwrap();
    let sent = log.lock().unwrap().last().cloned().unwrap().1;
    assert_eq!((sent["max_tokens"].as_i64(), sent["top_k"].as_i64(), sent.get("num_predict")), (Some(5), Some(3), None));
    t.call("generate", inputs(json!({"prompt": "p", "num_predict": -1})), &ctx()).await.unwrap();
    assert!(log.lock().unwrap().last().cloned().unwrap().1.get("max_tokens").is_none(), "-1: no limit, no max_tokens");
    let e = t.call("generate", inputs(json!({"prompt": "p", "num_ctx": 8192})), &ctx()).await.unwrap_err();
    assert!(e.to_string().starts_with("`num_ctx` is set when `ollama` (an OpenAI-compatible server) starts"), "{e}");
}

#[tokio::test]
async fn several_requests_are_in_flight_at_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // The stand-in holds every request 600 ms and counts how many it holds at once.
    let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (n, p) = (now.clone(), peak.clone());
    let (host, _) = stand_in(Arc::new(move |_, _| {
        let current = n.fetch_add(1, Ordering::SeqCst) + 1;
        p.fetch_max(current, Ordering::SeqCst);
        let n = n.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(550)).await;
            n.fetch_sub(1, Ordering::SeqCst);
        });
        Reply { status: 200, chunks: ndjson(&["ok"]), delay_ms: 600, gap_ms: 0 }
    }))
    .await;
    let t = Arc::new(tool(&host, "ollama", None));
    let calls = (0..4).map(|i| {
        let t = t.clone();
        async move { t.call("generate", inputs(json!({"prompt": format!("p{i}")})), &ctx()).await.unwrap() }
    });
    let outs = futures_util::future::join_all(calls).await;
    assert!(outs.iter().all(|o| o["response"] == "ok"));
    assert_eq!(peak.load(Ordering::SeqCst), 4, "the four requests were not all in flight together");
}

#[tokio::test]
async fn a_schema_is_resent_as_json_object_when_the_server_wants_that() {
    // llama-cpp-python's server rejects OpenAI's `json_schema` response format.
    let (host, log) = stand_in(Arc::new(|_, body| match body["response_format"]["type"].as_str() {
        Some("json_schema") => reply(500, r#"{"error":{"message":"response_format.type: Input should be 'text' or 'json_object'"}}"#),
        _ => reply(
            200,
            r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"{\"keywords\":[\"a\"]}"},"finish_reason":"stop"}]}"#,
        ),
    }))
    .await;
    let schema = json!({"type": "object", "properties": {"keywords": {"type": "array"}}});
    let out = tool(&host, "openai", None).call("generate", inputs(json!({"prompt": "k", "format": schema})), &ctx()).await.unwrap();
    assert_eq!(out["json"], json!({"keywords": ["a"]}));
    let sent = log.lock().unwrap().clone();
    assert_eq!(sent[1].1["response_format"], json!({"type": "json_object", "schema": schema}));
}

#[tokio::test]
async fn a_stopped_step_drops_its_request_at_once() {
    let (host, _) = stand_in(Arc::new(|_, _| Reply { status: 200, chunks: ndjson(&["never"]), delay_ms: 30_000, gap_ms: 0 })).await;
    let c = ctx();
    let stop = c.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        stop.cancel();
    });
    let llm = tool(&host, "ollama", None);
    let call = llm.call("generate", inputs(json!({"prompt": "hi"})), &c);
    // Without cancellation the call would wait for the 30 s answer; the guard fails it instead.
    let r = tokio::time::timeout(std::time::Duration::from_secs(10), call).await.expect("the call did not stop");
    assert!(matches!(r, Err(ToolError::Cancelled)), "{r:?}");
}

#[tokio::test]
async fn an_openai_compatible_models_identity_is_what_the_server_says_of_it() {
    // llama.cpp's server lists one model, with the weights' size and shape, and answers with
    // it whatever a request names; `created` is the time of asking.
    let one = r#"{"object":"list","data":[{"id":"smollm2","object":"model","created":1765100000,"owned_by":"llamacpp",
        "meta":{"n_params":134515008,"size":270898560,"n_vocab":49152}}]}"#;
    let (host, _) = stand_in(Arc::new(move |path, _| if path == "/v1/models" { reply(200, one) } else { reply(404, "{}") })).await;
    let t = tool(&host, "openai", None);
    let id = |model: &'static str| {
        let t = &t;
        async move { t.identity("generate", &inputs(json!({"model": model}))).await }
    };
    let first = id("smollm2").await.unwrap().unwrap();
    assert_eq!(first["served"]["meta"]["size"], 270898560);
    assert!(first["served"].get("created").is_none(), "the time of asking is not part of it");
    assert_eq!(id("smollm2").await.unwrap(), Some(first.clone()), "the same at the next asking");
    assert_eq!(id("anything").await.unwrap().unwrap()["served"], first["served"], "the one model answers for any name");
    // The same id served from other weights (a new file under the same alias): another identity.
    let other = one.replace("270898560", "541797120");
    let (host2, _) = stand_in(Arc::new(move |path, _| if path == "/v1/models" { reply(200, &other) } else { reply(404, "{}") })).await;
    let again = tool(&host2, "openai", None).identity("generate", &inputs(json!({"model": "smollm2"}))).await.unwrap().unwrap();
    assert_ne!(again["served"], first["served"]);
    // Several models and none of that name, or no listing at all: not cached (an error says why).
    let many = r#"{"object":"list","data":[{"id":"a","root":"/m/a"},{"id":"b","root":"/m/b"}]}"#;
    let (host3, _) = stand_in(Arc::new(move |path, _| if path == "/v1/models" { reply(200, many) } else { reply(404, "{}") })).await;
    let t3 = tool(&host3, "openai", None);
    assert_eq!(t3.identity("generate", &inputs(json!({"model": "b"}))).await.unwrap().unwrap()["served"]["root"], "/m/b");
    let e = t3.identity("generate", &inputs(json!({"model": "c"}))).await.unwrap_err().to_string();
    assert!(e.contains("lists no model `c` at /v1/models"), "{e}");
    let (host4, _) = stand_in(Arc::new(|_, _| reply(404, "{}"))).await;
    assert!(tool(&host4, "openai", None).identity("generate", &inputs(json!({"model": "c"}))).await.is_err());
}

#[tokio::test]
async fn server_specific_facts_join_the_identity_and_fresh_ids_do_not() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // vLLM: `permission` holds a new id and time at every asking.
    let asked = Arc::new(AtomicUsize::new(0));
    let n = asked.clone();
    let (vllm, _) = stand_in(Arc::new(move |path, _| match path {
        "/v1/models" => {
            let i = n.fetch_add(1, Ordering::SeqCst);
            reply(
                200,
                &format!(
                    r#"{{"object":"list","data":[{{"id":"qwen","root":"/m/qwen","max_model_len":4096,"created":{i},
                "permission":[{{"id":"modelperm-{i}","created":{i}}}]}}]}}"#
                ),
            )
        }
        _ => reply(404, "{}"),
    }))
    .await;
    let t = tool(&vllm, "openai", None);
    let a = t.identity("generate", &inputs(json!({"model": "qwen"}))).await.unwrap();
    assert_eq!(t.identity("generate", &inputs(json!({"model": "qwen"}))).await.unwrap(), a, "the same at every asking");
    // llama.cpp: `/props` says which file, template and defaults answer.
    let template = Arc::new(std::sync::Mutex::new("chatml".to_string()));
    let tpl = template.clone();
    let (llama, _) = stand_in(Arc::new(move |path, _| match path {
        "/v1/models" => reply(200, r#"{"object":"list","data":[{"id":"m","created":5,"meta":{"size":1}}]}"#),
        "/props" => reply(
            200,
            &json!({"model_path": "/m/x.gguf", "chat_template": *tpl.lock().unwrap(), "build_info": "b1",
                    "default_generation_settings": {"n_ctx": 2048, "is_processing": false, "id_task": 7, "params": {"temperature": 0.8}}})
            .to_string(),
        ),
        _ => reply(404, "{}"),
    }))
    .await;
    let t = tool(&llama, "openai", None);
    let first = t.identity("generate", &inputs(json!({"model": "m"}))).await.unwrap().unwrap();
    assert_eq!(first["served"]["props"]["model_path"], "/m/x.gguf");
    *template.lock().unwrap() = "llama3".into();
    assert_ne!(t.identity("generate", &inputs(json!({"model": "m"}))).await.unwrap().unwrap(), first, "another template: another identity");
    // Ollama's OpenAI endpoint: `x` is listed as `x:latest`; the digest from `/api/tags`.
    let (ollama, _) = stand_in(Arc::new(|path, _| match path {
        "/v1/models" => reply(200, r#"{"object":"list","data":[{"id":"a:latest","created":1},{"id":"llama3:latest","created":2}]}"#),
        "/api/tags" => {
            reply(200, r#"{"models":[{"name":"llama3:latest","digest":"sha256:abc"},{"name":"a:latest","digest":"sha256:def"}]}"#)
        }
        _ => reply(404, "{}"),
    }))
    .await;
    let id = tool(&ollama, "openai", None).identity("generate", &inputs(json!({"model": "llama3"}))).await.unwrap().unwrap();
    assert_eq!((id["served"]["id"].as_str(), id["served"]["digest"].as_str()), (Some("llama3:latest"), Some("sha256:abc")));
    // An endpoint that fails other than by not being there: not cached.
    let (broken, _) = stand_in(Arc::new(|path, _| match path {
        "/v1/models" => reply(200, r#"{"object":"list","data":[{"id":"m"}]}"#),
        "/props" => reply(500, "{}"),
        _ => reply(404, "{}"),
    }))
    .await;
    assert!(tool(&broken, "openai", None).identity("generate", &inputs(json!({"model": "m"}))).await.is_err());
}

#[tokio::test]
async fn model_options_given_as_inputs_reach_the_server_and_clash_with_options_only_when_they_differ() {
    let (host, log) = stand_in(Arc::new(|path, _| match path {
        "/api/generate" => Reply { status: 200, chunks: ndjson(&["ok"]), delay_ms: 0, gap_ms: 0 },
        "/api/embed" => reply(200, r#"{"embeddings":[[0.5]]}"#),
        _ => reply(404, "{}"),
    }))
    .await;
    let t = tool(&host, "ollama", None);
    let given = json!({"prompt": "hi", "temperature": 0.1, "num_ctx": 16384, "seed": 42, "options": {"top_k": 5, "seed": 42}});
    t.call("generate", inputs(given.clone()), &ctx()).await.unwrap();
    t.call("embed", inputs(json!({"input": "x", "num_ctx": 512})), &ctx()).await.unwrap();
    let sent: Vec<Value> = log.lock().unwrap().iter().map(|(_, body)| body["options"].clone()).collect();
    assert_eq!(sent, [json!({"top_k": 5, "seed": 42, "temperature": 0.1, "num_ctx": 16384}), json!({"num_ctx": 512})]);
    // The cache and the VRAM estimate see the same options the server gets.
    assert!(t.deterministic("generate", &inputs(json!({"prompt": "hi", "temperature": 0}))));
    assert_eq!(t.needs("generate", &inputs(given)).llm_context, Some(16384));

    let e = t.call("generate", inputs(json!({"prompt": "hi", "seed": 1, "options": {"seed": 2}})), &ctx()).await.unwrap_err();
    assert_eq!(e.to_string(), "`seed` is given twice, as an input (1) and in `options` (2): give it once");
    assert!(!t.deterministic("generate", &inputs(json!({"prompt": "hi", "seed": 1, "options": {"seed": 2}}))));
}

#[test]
fn an_input_that_is_no_option_is_refused_by_name() {
    let t = tool("http://127.0.0.1:9", "ollama", None);
    for action in ["generate", "chat", "embed"] {
        let table = t.inputs(action).unwrap();
        assert!(!table.open, "{action}");
        let names: Vec<&str> = table.inputs.iter().map(|i| i.name.as_str()).collect();
        assert!(names.contains(&"temperature") && names.contains(&"num_ctx") && !names.contains(&"sytem"), "{action}: {names:?}");
    }
}

#[tokio::test]
async fn instances_serving_different_weights_are_not_cached_and_the_same_weights_are() {
    let tags = |digest: &'static str| {
        Arc::new(move |path: &str, _: &Value| match path {
            "/api/tags" => reply(200, &format!(r#"{{"models":[{{"name":"tiny:1b","model":"tiny:1b","digest":"{digest}"}}]}}"#)),
            _ => reply(404, "{}"),
        })
    };
    let (a, _) = stand_in(tags("sha-A")).await;
    let (b, _) = stand_in(tags("sha-B")).await;
    let (a2, _) = stand_in(tags("sha-A")).await;
    let with = |hosts: [&str; 2]| {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.yaml");
        let text = format!(
            "services:\n  ollama:\n    default_model: tiny:1b\n    instances:\n      - {{host: {}, gpu: 0}}\n      - {{host: {}, gpu: 1}}\n",
            hosts[0], hosts[1]
        );
        std::fs::write(&f, text).unwrap();
        Llm::new(&Config::from_file(&f).unwrap())
    };
    let prompt = inputs(json!({"prompt": "hi", "seed": 1}));
    let e = with([&a, &b]).identity("generate", &prompt).await.unwrap_err();
    assert!(e.to_string().contains("serve different models for `tiny:1b`"), "{e}");
    let same = with([&a, &a2]).identity("generate", &prompt).await.unwrap().unwrap();
    assert_eq!(same["digest"], "sha-A");
}

//! The schemas agree with the parsers on the keys at every level, and say what each is.

use super::*;
use serde_json::Value;
use std::collections::BTreeSet;

fn props(v: &Value) -> BTreeSet<String> {
    v["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default()
}

fn set(keys: &[Key]) -> BTreeSet<String> {
    keys.iter().map(|k| k.name.to_string()).collect()
}

#[test]
fn every_level_of_the_recipe_schema_has_exactly_the_keys_the_parser_accepts() {
    use crate::recipe::keys::*;
    let s = document("recipe").unwrap();
    let d = &s["$defs"];
    for (schema, keys) in [
        (&s, TOP),
        (&d["step"], STEP),
        (&d["input"], INPUT),
        (&d["resources"], RESOURCES),
        (&d["refinement"], REFINEMENT),
        (&d["cleanup"], CLEANUP),
        (&d["cleanupAction"], CLEANUP_ACTION),
        (&d["recipeConfig"], CONFIG),
        (&d["batchInputs"], BATCH_INPUTS),
    ] {
        assert_eq!(props(schema), set(keys));
    }
}

#[test]
fn every_level_of_the_tool_schema_has_exactly_the_keys_the_parser_accepts() {
    use crate::tools::cli::keys::*;
    let s = document("tool").unwrap();
    let d = &s["$defs"];
    for (schema, keys) in [
        (&s, TOP),
        (&d["toolAction"], ACTION),
        (&d["toolInput"], INPUT),
        (&d["toolRequirements"], REQUIREMENTS),
        (&d["toolExample"], EXAMPLE),
        (&d["toolExpect"], EXPECT),
    ] {
        assert_eq!(props(schema), set(keys));
    }
}

#[test]
fn every_setting_the_engine_reads_is_in_the_config_schema() {
    let s = document("config").unwrap();
    let top = props(&s);
    let defaults = crate::config::defaults();
    for key in defaults.as_object().unwrap().keys() {
        assert!(top.contains(key), "default `{key}` missing from config.schema.json");
    }
    for (var, key) in crate::config::ENV_OVERRIDES {
        let first = key.split('.').next().unwrap();
        assert!(top.contains(first), "{var} sets `{key}`, missing from config.schema.json");
    }
    let d = &s["$defs"];
    assert!(props(&d["persistence"]).contains("db_path") && props(&d["cacheSettings"]).contains("max_gb"));
    assert!(props(&d["configResources"]).contains("vram_gb"));
    for service in defaults["services"].as_object().unwrap().values() {
        for key in service.as_object().unwrap().keys() {
            assert!(props(&d["service"]).contains(key), "service setting `{key}` missing");
        }
    }
}

/// Every property, at every level of every schema, says what it is for.
#[test]
fn every_property_has_a_description() {
    fn walk(v: &Value, at: &str) {
        if let Some(p) = v.get("properties").and_then(Value::as_object).filter(|_| v["type"] == "object") {
            for (k, s) in p {
                let d = s.get("description").and_then(Value::as_str).unwrap_or_default();
                assert!(d.len() > 10, "{at}/{k} has no description");
            }
        }
        match v {
            Value::Object(m) => m.iter().for_each(|(k, c)| walk(c, &format!("{at}/{k}"))),
            Value::Array(a) => a.iter().for_each(|c| walk(c, at)),
            _ => {}
        }
    }
    for kind in KINDS {
        walk(&document(kind).unwrap(), kind);
    }
}

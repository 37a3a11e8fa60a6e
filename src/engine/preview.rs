//! `run --dry-run`: which steps the cache would serve. Steps are looked at in run order
//! with a stand-in run folder; a hit's outputs (and the hashes of the files it would
//! restore) are what later steps see, so a chain of hits is found whole. A step after a
//! miss cannot be known before it runs.

use crate::cache::key::{key, localize, KeyParts};
use crate::cache::Cache;
use crate::plan::Plan;
use crate::recipe::{Recipe, StepKind};
use crate::status::StepStatus;
use crate::template::{render_value, to_value, RunParts, RunScope, Scope, StepTable};
use crate::tools::Registry;
use indexmap::IndexMap;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// A plan document's steps (`flow::plan_document`), each with its verdict under `cache`.
pub fn annotate(doc: &mut Value, verdicts: &IndexMap<String, Value>) {
    for s in doc.get_mut("steps").and_then(Value::as_array_mut).into_iter().flatten() {
        let verdict = s.get("id").and_then(Value::as_str).and_then(|id| verdicts.get(id)).cloned();
        if let (Some(v), Some(step)) = (verdict, s.as_object_mut()) {
            step.insert("cache".into(), v);
        }
    }
}

/// For each step id: `{"cache": "hit" | "miss" | "off" | "unknown", "from": run id, "why": ...}`.
/// `run_dir`: where a run would put its folder (not made): a key holds its length.
pub async fn preview(
    run_dir: &std::path::Path,
    cache: Option<&Cache>,
    recipe: &Recipe,
    plan: &Plan,
    inputs: &Map<String, Value>,
    tools: &Registry,
) -> IndexMap<String, Value> {
    let mut out = IndexMap::new();
    let Some(cache) = cache else {
        for s in &recipe.steps {
            out.insert(s.id.clone(), json!({"cache": "off", "why": "the step cache is off (--no-cache or cache.enabled: false)"}));
        }
        return out;
    };
    let run_dir = run_dir.to_path_buf();
    let steps = Arc::new(StepTable::default());
    let parts = RunParts {
        inputs: to_value(&Value::Object(inputs.clone())),
        config: to_value(&Value::Object(recipe.config.clone())),
        templates: recipe.templates.clone(),
        workflow: to_value(&json!({"run_id": "dry-run", "run_dir": run_dir, "name": recipe.name})),
        temp_dir: to_value(&json!(run_dir.join("temp"))),
    };
    let scope = Scope::new(RunScope::new(parts, steps.clone()));
    let mut known: HashMap<String, String> = HashMap::new();
    // What each step that would be served hands to the keys after it, as the run does.
    let mut digests: HashMap<String, String> = HashMap::new();
    let refreshed = crate::exec::refreshed(recipe, plan, &cache.refresh);
    let ctx = Look { cache, recipe, scope: &scope, run_dir: &run_dir, steps: &steps, tools };
    for &i in &plan.order {
        let s = &recipe.steps[i];
        let deps: Vec<&str> = plan.deps[i].iter().map(|&d| recipe.steps[d].id.as_str()).collect();
        let upstream: Option<Vec<(String, String)>> = deps.iter().map(|d| digests.get(*d).map(|h| (d.to_string(), h.clone()))).collect();
        let verdict = match (&s.kind, s.tool_action()) {
            (StepKind::Tool { .. }, Some(("batch", _))) => json!({"cache": "off", "why": "each item's steps are cached on their own"}),
            (StepKind::Tool { .. }, Some((tool, action))) => {
                let cached_at_all =
                    tools.get(tool).is_some_and(|t| crate::cache::wanted(s.cache, recipe.cache, t.deterministic(action, &s.inputs)));
                match (refreshed.contains(&s.id), upstream) {
                    (true, _) if cached_at_all => json!({"cache": "miss", "why": "--refresh (this step or one it depends on)"}),
                    (_, Some(upstream)) => {
                        let (verdict, digest) = look(&ctx, s, tool, action, &mut known, &upstream).await;
                        if let Some(d) = digest {
                            digests.insert(s.id.clone(), d);
                        }
                        verdict
                    }
                    (_, None) if !cached_at_all => not_asked(tool, action),
                    (_, None) => {
                        let first = deps.iter().find(|d| !digests.contains_key(**d)).copied().unwrap_or_default();
                        json!({"cache": "unknown", "why": format!("its key depends on what `{first}` gives, which runs first")})
                    }
                }
            }
            _ => json!({"cache": "off", "why": "approval gates always ask"}),
        };
        out.insert(s.id.clone(), verdict);
    }
    out
}

/// The verdict on a step whose tool is not cached unless the step asks.
fn not_asked(tool: &str, action: &str) -> Value {
    json!({"cache": "off", "why": format!("{tool}.{action} is not cached unless the step says `cache: true`")})
}

/// What every step's look shares.
struct Look<'a> {
    cache: &'a Cache,
    recipe: &'a Recipe,
    scope: &'a Scope,
    run_dir: &'a std::path::Path,
    steps: &'a StepTable,
    tools: &'a Registry,
}

/// A step's verdict, and on a hit the digest it hands to the steps after it.
async fn look(
    ctx: &Look<'_>,
    s: &crate::recipe::Step,
    tool: &str,
    action: &str,
    known: &mut HashMap<String, String>,
    upstream: &[(String, String)],
) -> (Value, Option<String>) {
    let Look { cache, recipe, scope, run_dir, steps, tools } = *ctx;
    let verdict = |v: Value| (v, None);
    let Some(t) = tools.get(tool) else { return verdict(json!({"cache": "off", "why": format!("no tool `{tool}`")})) };
    if t.renders_0x() {
        return verdict(json!({"cache": "off", "why": "a 0.x plugin renders its own inputs"}));
    }
    let inputs = match render_value(&Value::Object(s.inputs.clone()), scope) {
        Ok(Value::Object(m)) => m,
        // Not renderable yet: still "off" when the inputs as written already say so.
        _ if !crate::cache::wanted(s.cache, recipe.cache, t.deterministic(action, &s.inputs)) => return verdict(not_asked(tool, action)),
        _ => return verdict(json!({"cache": "unknown", "why": "its inputs depend on steps that will run first"})),
    };
    if !crate::cache::wanted(s.cache, recipe.cache, t.deterministic(action, &inputs)) {
        return verdict(not_asked(tool, action));
    }
    let identity = match t.identity(action, &inputs).await {
        Ok(i) => i,
        Err(e) => return verdict(json!({"cache": "unknown", "why": e.to_string()})),
    };
    let fingerprint = t.fingerprint();
    let temp = run_dir.join("temp");
    let context = crate::exec::context_of(t.as_ref(), action, &inputs, &[Some(temp.as_path()), recipe.path.parent()], upstream);
    let k = match key(&KeyParts {
        tool,
        action,
        fingerprint: &fingerprint,
        inputs: &inputs,
        identity: identity.as_ref(),
        run_dir,
        known: Some(known),
        context: &context,
    }) {
        Ok(k) => k,
        Err(e) => return verdict(json!({"cache": "off", "why": e.to_string()})),
    };
    match cache.store.peek(&k) {
        Some(entry) => {
            for f in &entry.files {
                known.insert(format!("{{run_dir}}/{}", f.rel), f.sha256.clone());
            }
            let outputs = localize(&entry.outputs, &run_dir.to_string_lossy());
            steps.set(&s.id, StepStatus::Completed, &outputs);
            let d = crate::cache::key::digest(Some(&k), outputs.as_object().unwrap_or(&Map::new()), run_dir, upstream);
            (json!({"cache": "hit", "from": entry.run_id}), Some(d))
        }
        None => verdict(json!({"cache": "miss", "why": "no entry has this key: the first run, or something it depends on changed \
             (its inputs, a file they name, a step before it, the tool or the program it runs)"})),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn each_planned_step_gets_its_own_verdict() {
        let mut doc = json!({"recipe": "r", "steps": [{"id": "a"}, {"id": "b"}, {"id": "c"}]});
        let verdicts = [("b", json!({"cache": "hit", "from": "run-1"})), ("a", json!({"cache": "off"}))];
        super::annotate(&mut doc, &verdicts.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
        let want = json!({"recipe": "r", "steps": [{"id": "a", "cache": {"cache": "off"}}, {"id": "b", "cache": {"cache": "hit", "from": "run-1"}}, {"id": "c"}]});
        assert_eq!(doc, want);
    }
}

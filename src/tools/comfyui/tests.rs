//! The comfyui tool against a stand-in ComfyUI server on 127.0.0.1 (ComfyUI
//! needs model weights, so the stand-in follows its documented HTTP API:
//! `/prompt`, `/history/{id}`, `/view`, `/interrupt`, `/free`).

use super::*;
use crate::tools::stand_in::{ctx, reply, stand_in};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn tool(host: &str) -> ComfyUi {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.yaml");
    std::fs::write(&f, format!("services:\n  comfyui:\n    host: {host}\n")).unwrap();
    ComfyUi::new(&Config::from_file(&f).unwrap())
}

fn workflow() -> Value {
    json!({
        "3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "placeholder"}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "lf"}}
    })
}

fn inputs(v: Value) -> JsonMap {
    v.as_object().unwrap().clone()
}

#[tokio::test]
async fn runs_a_workflow_with_values_and_collects_images() {
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let (host, log) = stand_in(Arc::new(move |path, _| match path {
        "/prompt" => reply(200, r#"{"prompt_id":"abc","number":1,"node_errors":{}}"#),
        "/history/abc" if p.fetch_add(1, Ordering::SeqCst) < 2 => reply(200, "{}"),
        "/history/abc" => reply(200, r#"{"abc":{"outputs":{"9":{"images":[{"filename":"lf_00001_.png","subfolder":"","type":"output"}]}},"status":{"status_str":"success","completed":true,"messages":[]}}}"#),
        p if p.starts_with("/view?filename=lf_00001_.png") => reply(200, "PNGDATA"),
        _ => reply(404, "{}"),
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = tool(&host)
        .call("run", inputs(json!({"workflow": workflow(), "values": {"6.inputs.text": "a red fox", "3.inputs.seed": 42}, "poll_interval": 0.05, "output_dir": dir.path()})), &ctx())
        .await
        .unwrap();
    assert_eq!(out["count"], 1);
    assert_eq!(std::fs::read_to_string(out["primary"].as_str().unwrap()).unwrap(), "PNGDATA");
    let sent = log.lock().unwrap()[0].1.clone();
    assert_eq!(sent["prompt"]["6"]["inputs"]["text"], "a red fox");
    assert_eq!(sent["prompt"]["3"]["inputs"]["seed"], 42);
    assert_eq!(polls.load(Ordering::SeqCst), 3, "it waited on /history until the prompt completed");
}

#[tokio::test]
async fn node_errors_and_execution_errors_are_readable() {
    let (host, _) = stand_in(Arc::new(|path, body| match (path, body["prompt"]["6"]["inputs"]["text"].as_str()) {
        ("/prompt", Some("bad")) => reply(
            400,
            r#"{"error":{"type":"prompt_outputs_failed_validation","message":"Prompt outputs failed validation"},"node_errors":{"3":{"errors":[{"message":"Value not in list","details":"ckpt_name: 'x.safetensors' not in []"}]}}}"#,
        ),
        ("/prompt", _) => reply(200, r#"{"prompt_id":"e1","number":1,"node_errors":{}}"#),
        ("/history/e1", _) => reply(
            200,
            r#"{"e1":{"outputs":{},"status":{"status_str":"error","completed":false,"messages":[["execution_error",{"node_id":"3","node_type":"KSampler","exception_message":"CUDA out of memory"}]]}}}"#,
        ),
        _ => reply(404, "{}"),
    }))
    .await;
    let t = tool(&host);
    let e = t.call("run", inputs(json!({"workflow": workflow(), "values": {"6.inputs.text": "bad"}})), &ctx()).await.unwrap_err();
    assert_eq!(e.to_string(), format!("ComfyUI at {host} refused the request (HTTP 400): Prompt outputs failed validation; node 3: Value not in list ckpt_name: 'x.safetensors' not in []"));
    let e = t.call("run", inputs(json!({"workflow": workflow(), "poll_interval": 0.05})), &ctx()).await.unwrap_err();
    assert_eq!(e.to_string(), "ComfyUI could not run the workflow: node 3 (KSampler): CUDA out of memory");
    let e = t.call("run", inputs(json!({"workflow": workflow(), "values": {"99.inputs.text": "x"}})), &ctx()).await.unwrap_err();
    assert!(e.to_string().starts_with("comfyui: `99.inputs.text`: the workflow has no node `99`"), "{e}");
}

#[tokio::test]
async fn a_cancelled_run_interrupts_comfyui_and_free_unloads() {
    let (host, log) = stand_in(Arc::new(|path, _| match path {
        "/prompt" => reply(200, r#"{"prompt_id":"slow","number":1,"node_errors":{}}"#),
        "/history/slow" => reply(200, "{}"),
        _ => reply(200, "{}"),
    }))
    .await;
    let t = tool(&host);
    let c = ctx();
    let run = t.call("run", inputs(json!({"workflow": workflow(), "poll_interval": 0.05})), &c);
    assert!(tokio::time::timeout(Duration::from_millis(300), run).await.is_err(), "still waiting");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seen: Vec<String> = log.lock().unwrap().iter().map(|(p, _)| p.clone()).collect();
    assert!(seen.iter().any(|p| p == "/interrupt"), "dropping the call sent /interrupt: {seen:?}");
    t.call("free", JsonMap::new(), &ctx()).await.unwrap();
    let calls = log.lock().unwrap().clone();
    let free = calls.iter().find(|(p, _)| p == "/free").unwrap();
    assert_eq!(free.1, json!({"unload_models": true, "free_memory": true}));
}

use super::*;
use crate::tools::stand_in::ctx_in;

async fn call(action: &str, inputs: Value, dir: &Path) -> Result<JsonMap, ToolError> {
    FileOps.call(action, inputs.as_object().unwrap().clone(), &ctx_in(dir)).await
}

#[tokio::test]
async fn write_read_copy_move_delete() {
    let d = tempfile::tempdir().unwrap();
    let p = |n: &str| d.path().join(n).to_string_lossy().into_owned();
    let w = call("write", json!({"path": p("a/b.txt"), "content": "hello"}), d.path()).await.unwrap();
    assert_eq!(w["bytes"], 5);
    let r = call("read", json!({"path": p("a/b.txt")}), d.path()).await.unwrap();
    assert_eq!(r["content"], "hello");
    call("copy", json!({"source": p("a/b.txt"), "destination": p("c.txt")}), d.path()).await.unwrap();
    assert_eq!(fs::read_to_string(p("c.txt")).unwrap(), "hello");
    call("move", json!({"source": p("c.txt"), "destination": p("m/")}), d.path()).await.unwrap_err();
    call("mkdir", json!({"path": p("m")}), d.path()).await.unwrap();
    let m = call("move", json!({"source": p("c.txt"), "destination": p("m")}), d.path()).await.unwrap();
    assert_eq!(m["destination"], p("m/c.txt"));
    assert!(!Path::new(&p("c.txt")).exists());
    let del = call("delete", json!({"path": p("m")}), d.path()).await.unwrap();
    assert_eq!(del["existed"], true);
    assert!(!Path::new(&p("m")).exists());
}

#[tokio::test]
async fn list_is_sorted_and_copy_multiple_takes_a_list() {
    let d = tempfile::tempdir().unwrap();
    for n in ["c.txt", "a.txt", "b.log"] {
        fs::write(d.path().join(n), n).unwrap();
    }
    let l = call("list", json!({"path": d.path(), "pattern": "*.txt"}), d.path()).await.unwrap();
    let files: Vec<String> = serde_json::from_value(l["files"].clone()).unwrap();
    assert_eq!(files, [d.path().join("a.txt"), d.path().join("c.txt")].map(|p| p.to_string_lossy().into_owned()));
    let out = d.path().join("out");
    let c = call("copy_multiple", json!({"sources": files, "destination": out}), d.path()).await.unwrap();
    assert_eq!(c["count"], 2);
    assert_eq!(fs::read_to_string(out.join("c.txt")).unwrap(), "c.txt");
}

#[tokio::test]
async fn missing_input_names_the_key() {
    let d = tempfile::tempdir().unwrap();
    let e = call("copy", json!({"source": "x"}), d.path()).await.unwrap_err();
    assert_eq!(e.to_string(), "file_ops.copy needs input `destination`");
}

//! The engine alone (no Python): an N-step chain recipe (../shared/bench's
//! `gen_chain.py` shape) checked, planned and run with history on, timed by
//! phase. `cargo bench --bench engine -- 5000`
//!
//! Prints one line per phase; docs/benchmarks.md records the results.

use indexmap::IndexMap;
use localforge::engine::prepare;
use localforge::exec::{run, RunOptions};
use localforge::store::Store;
use localforge::tools::Registry;
use std::sync::Arc;
use std::time::Instant;

fn chain(n: usize) -> String {
    let mut s = format!("name: \"chain-{n}\"\nversion: \"1.0\"\nsteps:\n");
    for i in 0..n {
        let prev = if i == 0 { "first".to_string() } else { format!("prev={{{{steps.s{}.outputs.path}}}}", i - 1) };
        s.push_str(&format!(
            "  - id: \"s{i}\"\n    tool: \"file_ops\"\n    action: \"write\"\n    inputs:\n      path: \"{{{{temp_dir}}}}/f{i}.txt\"\n      content: \"{prev}\"\n"
        ));
    }
    s
}

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(5000);
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("chain.yaml");
    std::fs::write(&recipe, chain(n)).unwrap();
    let tools = Arc::new(Registry::native());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();

    let t = Instant::now();
    let p = prepare(&recipe, &IndexMap::new(), &tools).unwrap_or_else(|d| panic!("{d:?}"));
    let t_prepare = t.elapsed();

    let t = Instant::now();
    let config = localforge::config::Config::load(dir.path()).unwrap();
    let probe = localforge::system::Probe::machine();
    let pf = rt.block_on(localforge::system::preflight::run(&config, &p.recipe, &p.inputs, &tools, &probe));
    let t_preflight = t.elapsed();

    let t = Instant::now();
    // LF_BENCH_NO_HISTORY=1 runs without the store, to see its share.
    let store = std::env::var_os("LF_BENCH_NO_HISTORY").is_none().then(|| Arc::new(Store::open(&dir.path().join("h.db")).unwrap()));
    let opts = RunOptions {
        cache: None,
        run_root: dir.path().join("runs"),
        store,
        auto_approve: true,
        run_id: None,
        listeners: Vec::new(),
        answers: None,
        cancel: Default::default(),
        resources: pf.resources(&config),
        resume: None,
    };
    let report = rt.block_on(run(p.recipe, p.plan, p.inputs, tools, opts)).unwrap();
    let t_run = t.elapsed();
    assert_eq!(report.status.as_str(), "completed", "{:?}", report.error);
    println!(
        "steps={n} prepare={:.1}ms preflight={:.1}ms run={:.1}ms per_step={:.1}µs",
        t_prepare.as_secs_f64() * 1e3,
        t_preflight.as_secs_f64() * 1e3,
        t_run.as_secs_f64() * 1e3,
        t_run.as_secs_f64() * 1e6 / n as f64
    );
}

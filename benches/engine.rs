//! The engine alone (no Python): an N-step chain recipe (../shared/bench's
//! `gen_chain.py` shape) checked, planned and run with history on, timed by
//! phase. `cargo bench --bench engine -- 5000`
//!
//! `cargo bench --bench engine -- 5000 cache`: every step `cache: true`, run once to fill
//! the step cache and again served entirely from it (a hit's cost without Python).
//!
//! Prints one line per phase; docs/benchmarks.md records the results.

use indexmap::IndexMap;
use localforge::engine::prepare;
use localforge::exec::{run, RunOptions};
use localforge::store::Store;
use localforge::tools::Registry;
use std::sync::Arc;
use std::time::Instant;

fn chain(n: usize, cached: bool) -> String {
    let mut s = format!("name: \"chain-{n}\"\nversion: \"1.0\"\nsteps:\n");
    for i in 0..n {
        let prev = if i == 0 { "first".to_string() } else { format!("prev={{{{steps.s{}.outputs.path}}}}", i - 1) };
        s.push_str(&format!(
            "  - id: \"s{i}\"\n    tool: \"file_ops\"\n{}    action: \"write\"\n    inputs:\n      path: \"{{{{temp_dir}}}}/f{i}.txt\"\n      content: \"{prev}\"\n",
            if cached { "    cache: true\n" } else { "" }
        ));
    }
    s
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(5000);
    let cached = args.iter().any(|a| a == "cache");
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("chain.yaml");
    std::fs::write(&recipe, chain(n, cached)).unwrap();
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

    // LF_BENCH_NO_HISTORY=1 runs without the store, to see its share.
    let store = std::env::var_os("LF_BENCH_NO_HISTORY").is_none().then(|| Arc::new(Store::open(&dir.path().join("h.db")).unwrap()));
    let cache = cached.then(|| {
        let store = localforge::cache::Store { root: dir.path().join("cache"), max_bytes: u64::MAX };
        Arc::new(localforge::cache::Cache { store, refresh: Vec::new(), stored: Default::default() })
    });
    let timed_run = |label: &str| {
        let opts = RunOptions {
            cache: cache.clone(),
            run_root: dir.path().join("runs"),
            store: store.clone(),
            auto_approve: true,
            run_id: None,
            listeners: Vec::new(),
            answers: None,
            cancel: Default::default(),
            resources: pf.resources(&config),
            resume: None,
        };
        let t = Instant::now();
        let report = rt.block_on(run(p.recipe.clone(), p.plan.clone(), p.inputs.clone(), tools.clone(), opts)).unwrap();
        let t_run = t.elapsed();
        assert_eq!(report.status.as_str(), "completed", "{:?}", report.error);
        // Hits are told apart in the history only (the report says `completed`).
        let served: i64 = store.as_ref().map_or(-1, |_| {
            let db = rusqlite::Connection::open(dir.path().join("h.db")).unwrap();
            let q = "SELECT count(*) FROM steps WHERE run_id = ?1 AND status = 'cached'";
            db.query_row(q, [&report.run_id], |r| r.get(0)).unwrap()
        });
        println!(
            "steps={n} {label}: prepare={:.1}ms preflight={:.1}ms run={:.1}ms per_step={:.1}µs cached={served}",
            t_prepare.as_secs_f64() * 1e3,
            t_preflight.as_secs_f64() * 1e3,
            t_run.as_secs_f64() * 1e3,
            t_run.as_secs_f64() * 1e6 / n as f64
        );
    };
    if cached {
        timed_run("filling the cache");
        timed_run("served from the cache");
    } else {
        timed_run("run");
    }
}

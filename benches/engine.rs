//! The engine alone (no Python): an N-step chain recipe (../shared/bench's
//! `gen_chain.py` shape) checked, planned and run with history on, timed by
//! phase. `cargo bench --bench engine -- 5000 [ROUNDS] [cache]`
//!
//! `cache`: every step `cache: true`; each round runs the chain once to fill the step
//! cache, then times it served entirely from it (a hit's cost without Python).
//! `LF_BENCH_SERVE=K` serves it K more times before the timed run, for a profiler to see
//! mostly hits.
//!
//! Each round prints its phases, its time per step and what the steps' tool costs on its
//! own (the same files written in a loop: `tool_floor`); the last line is the quietest
//! round's time per step less the tool's, the engine's own cost per step.
//! docs/benchmarks.md records the results.

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

/// What the steps' tool does, without the engine: the same files written the way
/// `file_ops.write` writes them (its folder checked, then the file), in a loop.
fn tool_floor(dir: &std::path::Path, n: usize) -> (f64, f64) {
    let temp = dir.join("floor").join("temp");
    std::fs::create_dir_all(&temp).unwrap();
    let (t, c) = (Instant::now(), cpu());
    for i in 0..n {
        let p = temp.join(format!("f{i}.txt"));
        if !p.parent().unwrap().is_dir() {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        }
        let content = if i == 0 { "first".to_string() } else { format!("prev={}", temp.join(format!("f{}.txt", i - 1)).display()) };
        std::fs::write(&p, content.as_bytes()).unwrap();
    }
    (t.elapsed().as_secs_f64() * 1e6 / n as f64, (cpu() - c) * 1e6 / n as f64)
}

/// This process's CPU time so far (user + system, every thread), in seconds: steadier than
/// the wall clock on a shared machine.
fn cpu() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    s(u.ru_utime) + s(u.ru_stime)
}

/// One round: a fresh folder, the chain checked, planned, preflighted and run.
/// Per step, in µs: (wall, CPU, the tool's own wall, the tool's own CPU); and the phases' ms.
struct Round {
    prepare: f64,
    preflight: f64,
    run: f64,
    wall: f64,
    cpu: f64,
    tool_wall: f64,
    tool_cpu: f64,
}

fn round(n: usize, cached: bool, rt: &tokio::runtime::Runtime, tools: &Arc<Registry>) -> Round {
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("chain.yaml");
    std::fs::write(&recipe, chain(n, cached)).unwrap();

    let t = Instant::now();
    let p = prepare(&recipe, &IndexMap::new(), tools).unwrap_or_else(|d| panic!("{d:?}"));
    let t_prepare = t.elapsed();

    let t = Instant::now();
    let config = localforge::config::Config::load(dir.path()).unwrap();
    let probe = localforge::system::Probe::machine();
    let pf = rt.block_on(localforge::system::preflight::run(&config, &p.recipe, &p.inputs, tools, &probe));
    let t_preflight = t.elapsed();

    // LF_BENCH_NO_HISTORY=1 runs without the store, to see its share.
    let store = std::env::var_os("LF_BENCH_NO_HISTORY").is_none().then(|| Arc::new(Store::open(&dir.path().join("h.db")).unwrap()));
    let cache = cached.then(|| {
        let store = localforge::cache::Store { root: dir.path().join("cache"), max_bytes: u64::MAX };
        Arc::new(localforge::cache::Cache { store, refresh: Vec::new(), stored: Default::default() })
    });
    let one_run = || {
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
        let report = rt.block_on(run(p.recipe.clone(), p.plan.clone(), p.inputs.clone(), tools.clone(), opts)).unwrap();
        assert_eq!(report.status.as_str(), "completed", "{:?}", report.error);
        report
    };
    if cached {
        one_run(); // fills the cache
        for _ in 0..std::env::var("LF_BENCH_SERVE").ok().and_then(|v| v.parse().ok()).unwrap_or(0) {
            one_run();
        }
    }
    let (t, c) = (Instant::now(), cpu());
    let report = one_run();
    let (t_run, c_run) = (t.elapsed(), cpu() - c);
    if cached {
        // Hits are told apart in the history only (the report says `completed`).
        let db = rusqlite::Connection::open(dir.path().join("h.db")).unwrap();
        let q = "SELECT count(*) FROM steps WHERE run_id = ?1 AND status = 'cached'";
        let served: i64 = db.query_row(q, [&report.run_id], |r| r.get(0)).unwrap();
        assert_eq!(served, n as i64, "every step served from the cache");
    }
    drop(report);
    let (tool_wall, tool_cpu) = tool_floor(dir.path(), n);
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    Round {
        prepare: ms(t_prepare),
        preflight: ms(t_preflight),
        run: ms(t_run),
        wall: t_run.as_secs_f64() * 1e6 / n as f64,
        cpu: c_run * 1e6 / n as f64,
        tool_wall,
        tool_cpu,
    }
}

fn main() {
    // `-- N [ROUNDS] [cache]`: an N-step chain (default 5000), run ROUNDS times (default 5).
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let cached = args.iter().any(|a| a == "cache");
    let n = numbers.first().copied().unwrap_or(5000);
    let rounds = numbers.get(1).copied().unwrap_or(5).max(1);
    let tools = Arc::new(Registry::native());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut all: Vec<Round> = (0..rounds).map(|_| round(n, cached, &rt, &tools)).collect();
    for r in &all {
        println!(
            "steps={n} prepare={:.1}ms preflight={:.1}ms run={:.1}ms per_step={:.1}µs (CPU {:.1}µs) tool={:.1}µs (CPU {:.1}µs)",
            r.prepare, r.preflight, r.run, r.wall, r.cpu, r.tool_wall, r.tool_cpu
        );
    }
    // The quietest round says most about the code: noise only ever adds.
    let best = |f: fn(&Round) -> f64| all.iter().map(f).fold(f64::INFINITY, f64::min);
    let (wall, cpu, tool_wall, tool_cpu) = (best(|r| r.wall), best(|r| r.cpu), best(|r| r.tool_wall), best(|r| r.tool_cpu));
    all.clear();
    let what = if cached { "served from the step cache" } else { "run" };
    println!(
        "{what}, best of {rounds}: per step {wall:.1}µs wall, {cpu:.1}µs CPU; the tool's own writes {tool_wall:.1}µs wall, {tool_cpu:.1}µs CPU; \
         engine {:.1}µs wall, {:.1}µs CPU per step",
        wall - tool_wall,
        cpu - tool_cpu
    );
}

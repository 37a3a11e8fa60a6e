//! Any text as a recipe file: the loader (YAML with aliases and merge keys, the
//! recipe's structure, numbers, templates, dependencies) must answer with a recipe
//! or diagnostics — never panic, never hang, never eat memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match localforge::recipe::parse_str(text, "fuzz.yaml") {
        Ok((recipe, _warnings)) => {
            // What a run does first with a loaded recipe: plan its order.
            if let Ok(plan) = localforge::plan::build(&recipe) {
                let _ = plan.levels();
            }
        }
        Err(diagnostics) => assert!(!diagnostics.is_empty(), "a refused recipe says why"),
    }
});

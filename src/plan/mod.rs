//! The run order: a DAG of steps from `depends_on`, the implicit previous-step
//! rule and `steps.X` references, checked for unknown ids and cycles.

use crate::diag::{did_you_mean, Diagnostic};
use crate::recipe::{Recipe, Step};
use petgraph::algo::kosaraju_scc;
use petgraph::graph::DiGraph;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Steps in a runnable order, and what each waits for.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Indices into `recipe.steps`, in dispatch order (file order where free).
    pub order: Vec<usize>,
    /// For each step index, the step indices it waits for.
    pub deps: Vec<Vec<usize>>,
    /// No step has `depends_on`: 0.x order, one after another.
    pub sequential: bool,
}

impl Plan {
    /// For each step index, the steps that wait for it.
    pub fn dependents(&self) -> Vec<Vec<usize>> {
        dependents_of(&self.deps)
    }

    /// Steps grouped by level: every step's dependencies are in earlier levels.
    pub fn levels(&self) -> Vec<Vec<usize>> {
        let mut level = vec![0usize; self.deps.len()];
        let mut out: Vec<Vec<usize>> = Vec::new();
        for &i in &self.order {
            let l = self.deps[i].iter().map(|&d| level[d] + 1).max().unwrap_or(0);
            level[i] = l;
            if out.len() <= l {
                out.resize(l + 1, Vec::new());
            }
            out[l].push(i);
        }
        out
    }
}

/// The `steps.X` ids a step's templates read (its refinement and batch sub-steps included).
pub fn referenced_steps<'a>(step: &'a Step) -> Vec<&'a str> {
    let mut out: Vec<&'a str> = Vec::new();
    let mut visit = |s: &'a Step| {
        for r in &s.refs {
            if r.reference.root() == "steps" {
                if let Some(id) = r.reference.part(1) {
                    out.push(id);
                }
            }
        }
    };
    visit(step);
    for child in step.refinement.iter().flatten().chain(step.batch.iter().flatten()) {
        visit(child);
    }
    out.sort_unstable();
    out.dedup();
    out
}

pub fn build(recipe: &Recipe) -> Result<Plan, Vec<Diagnostic>> {
    let steps = &recipe.steps;
    let file = recipe.file.as_str();
    let runnable = |s: &Step| !s.is_refinement();
    let by_id: std::collections::HashMap<&str, usize> =
        steps.iter().enumerate().rev().filter(|(_, s)| runnable(s)).map(|(i, s)| (s.id.as_str(), i)).collect();
    let index_of = |id: &str| by_id.get(id).copied();
    let sequential = steps.iter().all(|s| s.depends_on.is_none());
    let mut diags = Vec::new();
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    let mut prev: Option<usize> = None;
    for (i, step) in steps.iter().enumerate() {
        if !runnable(step) {
            continue;
        }
        let at = |msg: String| Diagnostic::new(msg).in_file(file).at(step.line, step.col);
        match &step.depends_on {
            Some(list) => {
                for dep in list {
                    if dep == &step.id {
                        diags.push(at(format!("step `{}` depends on itself", step.id)).hint("remove it from its own `depends_on`"));
                    } else if let Some(j) = index_of(dep) {
                        deps[i].push(j);
                    } else {
                        let ids = steps.iter().filter(|s| runnable(s)).map(|s| s.id.as_str());
                        diags.push(at(format!("step `{}` depends on unknown step `{dep}`", step.id)).maybe_hint(did_you_mean(dep, ids)));
                    }
                }
            }
            None => deps[i].extend(prev),
        }
        if !sequential {
            for id in referenced_steps(step) {
                if let Some(j) = index_of(id).filter(|&j| j != i) {
                    deps[i].push(j);
                }
            }
        }
        deps[i].sort_unstable();
        deps[i].dedup();
        prev = Some(i);
    }
    if let Some(cycle) = find_cycle(steps, &deps) {
        diags.push(cycle.in_file(file));
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let order = topo_order(steps, &deps);
    Ok(Plan { order, deps, sequential })
}

fn find_cycle(steps: &[Step], deps: &[Vec<usize>]) -> Option<Diagnostic> {
    let mut g = DiGraph::<usize, ()>::new();
    let nodes: Vec<_> = (0..steps.len()).map(|i| g.add_node(i)).collect();
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            g.add_edge(nodes[d], nodes[i], ());
        }
    }
    // Kosaraju, not Tarjan: petgraph's Tarjan recurses once per step of a chain and overflows the stack on long recipes.
    let mut scc = kosaraju_scc(&g).into_iter().find(|c| c.len() > 1)?;
    scc.sort_by_key(|n| g[*n]);
    let members: Vec<usize> = scc.iter().map(|n| g[*n]).collect();
    // Walk the cycle from its first step in file order along dependency edges.
    let path = cycle_path(&members, deps).unwrap_or(members);
    let names: Vec<String> = path.iter().chain(std::iter::once(&path[0])).map(|&i| format!("`{}`", steps[i].id)).collect();
    let (from, to) = (path[path.len() - 1], path[0]);
    let first = &steps[path[0]];
    Some(Diagnostic::new(format!("steps form a cycle: {}", names.join(" → "))).at(first.line, first.col).hint(format!(
        "cut one edge, e.g. make `{}` not wait for `{}` (its `depends_on` or its `steps.{}` references)",
        steps[to].id, steps[from].id, steps[from].id
    )))
}

/// A simple cycle through the first member, by depth-first search inside the component.
fn cycle_path(members: &[usize], deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    fn dfs(cur: usize, start: usize, members: &[usize], deps: &[Vec<usize>], path: &mut Vec<usize>) -> bool {
        for &m in members {
            if !deps[m].contains(&cur) {
                continue;
            }
            if m == start {
                return true;
            }
            if !path.contains(&m) {
                path.push(m);
                if dfs(m, start, members, deps, path) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![members[0]];
    dfs(members[0], members[0], members, deps, &mut path).then_some(path)
}

fn dependents_of(deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); deps.len()];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            out[d].push(i);
        }
    }
    out
}

/// Kahn's algorithm, taking the earliest step in file order whenever several are ready.
fn topo_order(steps: &[Step], deps: &[Vec<usize>]) -> Vec<usize> {
    let mut remaining: Vec<usize> = deps.iter().map(Vec::len).collect();
    let dependents = dependents_of(deps);
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..steps.len()).filter(|&i| remaining[i] == 0 && !steps[i].is_refinement()).map(Reverse).collect();
    let mut order = Vec::with_capacity(steps.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &j in &dependents[i] {
            remaining[j] -= 1;
            if remaining[j] == 0 {
                ready.push(Reverse(j));
            }
        }
    }
    order
}

#[cfg(test)]
mod tests;

//! Criterion benches: one group per workload, one bench per engine; each iteration decides
//! the next request of the workload's stream.
//!
//! `cargo bench -p rampart-bench` runs `small`, `gateway`, `scale-1k` and `scale-10k`;
//! set `RAMPART_BENCH_WORKLOADS` (comma separated) to choose, e.g.
//! `RAMPART_BENCH_WORKLOADS=scale-100k` (Rampart's compiler needs tens of seconds there).
//! Engines the full report leaves out on a workload are left out here too. Before timing,
//! every engine decides the whole stream and the benches stop on a disagreement.
//! `decide/group-heads-10k` (Rampart only) times 10,000 group-scoped rules written as entity
//! heads and as conditions.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use rampart_bench::agree::check;
use rampart_bench::engines::{load, Decider, EngineKind};
use rampart_bench::gen::generate;
use rampart_bench::report::plan;

const DEFAULT_WORKLOADS: &str = "small,gateway,scale-1k,scale-10k";
/// Requests per stream: enough to mix allow and deny paths, few enough for the agreement
/// pass of the slow engines at 10k rules.
const REQUESTS: usize = 200;

fn workloads() -> Vec<String> {
    std::env::var("RAMPART_BENCH_WORKLOADS")
        .unwrap_or_else(|_| DEFAULT_WORKLOADS.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn decide(c: &mut Criterion) {
    for name in workloads() {
        let Some(workload) = generate(&name, REQUESTS) else {
            eprintln!("unknown workload `{name}`, skipped");
            continue;
        };
        let plan = plan(&name, false);
        let mut deciders: Vec<Box<dyn Decider>> = EngineKind::ALL
            .into_iter()
            .filter(|kind| plan.runs(*kind))
            .map(|kind| load(kind, &workload).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        if let Err(e) = check(&workload, &mut deciders) {
            panic!("{e}");
        }
        let mut group = c.benchmark_group(format!("decide/{name}"));
        if workload.rules >= 10_000 {
            group.sample_size(10);
            group.warm_up_time(Duration::from_millis(500));
        }
        for decider in &mut deciders {
            let mut index = 0_usize;
            group.bench_function(decider.kind().name(), |b| {
                b.iter(|| {
                    index = index.wrapping_add(1);
                    black_box(decider.decide(black_box(index)))
                })
            });
        }
        group.finish();
    }
}

/// 10,000 rules scoped to one group each, written as entity heads (`for User in
/// Group::"gN"`) and as conditions (`when principal in Group::"gN"`); users in 3 groups
/// each. Both forms are index keys: a decision evaluates the rules of the user's groups.
fn group_heads(c: &mut Criterion) {
    const GROUPS: usize = 10_000;
    const USERS: usize = 1_000;
    let mut group = c.benchmark_group("decide/group-heads-10k");
    group.sample_size(20);
    for (name, rule) in [
        ("head", "allow \"read\" on Doc for User in Group::\"g{i}\""),
        (
            "condition",
            "allow \"read\" on Doc for User when principal in Group::\"g{i}\"",
        ),
    ] {
        let mut policy = String::from(
            "package heads\nschema {\n  entity Group\n  entity User in [Group]\n  entity Doc\n  action \"read\" on Doc for User\n}\n",
        );
        for i in 0..GROUPS {
            policy.push_str(&format!(
                "@id(\"g{i}\")\n{}\n",
                rule.replace("{i}", &i.to_string())
            ));
        }
        let file = rampart_lang::SourceFile::new(
            std::path::PathBuf::from("heads.rampart"),
            "heads.rampart",
            policy,
        );
        let set = rampart_lang::PolicySet::from_files(std::path::PathBuf::from("."), vec![file]);
        let bundle = rampart_lang::compile(&set)
            .bundle
            .unwrap_or_else(|| panic!("the {name} policy compiles"));
        let engine = rampart_engine::Engine::new(bundle).unwrap_or_else(|e| panic!("{e}"));
        let entities: Vec<serde_json::Value> = (0..USERS)
            .map(|u| {
                let parents: Vec<String> = (0..3)
                    .map(|k| format!("Group::\"g{}\"", (u * 7 + k * 3_331) % GROUPS))
                    .collect();
                serde_json::json!({"uid": format!("User::\"u{u}\""), "parents": parents})
            })
            .collect();
        let entities = engine
            .entities_from_values(&entities)
            .unwrap_or_else(|e| panic!("{e}"));
        let requests: Vec<rampart_engine::Request> = (0..USERS)
            .map(|u| {
                let json = serde_json::json!({
                    "principal": format!("User::\"u{u}\""), "action": "read",
                    "resource": "Doc::\"d\"",
                });
                engine
                    .request_from_value(&json)
                    .unwrap_or_else(|e| panic!("{e}"))
            })
            .collect();
        let mut index = 0_usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                index = (index + 1) % USERS;
                let request = requests.get(index).unwrap_or_else(|| panic!("request"));
                black_box(engine.decide_effect(black_box(request), &entities))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, decide, group_heads);
criterion_main!(benches);

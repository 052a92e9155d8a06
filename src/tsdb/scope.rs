//! One node's series of one metric at the scope asked for: units measured at that scope
//! answer as they are; otherwise the units of the nearest finer scope are added up (the
//! metric's `aggregation`, sum or avg) through the node's topology. Sub-units (`stype`)
//! are first added up into their unit unless the unit has samples of its own. Only the
//! units a job owns take part when `Owned` says which.

use super::read::Grid;
use crate::domain::metric::{Aggregation, Scope, Topology};
use std::collections::BTreeMap;

/// The hwthreads and accelerators of a job on one node; `None`: the whole node.
#[derive(Debug, Default, Clone)]
pub(crate) struct Owned {
    pub hwthreads: Option<Vec<i64>>,
    pub accelerators: Option<Vec<String>>,
}

impl Owned {
    /// Each node of a job's `resources` with the hwthreads and accelerators it owns there.
    pub(crate) fn of_resources(resources: &serde_json::Value) -> Vec<(String, Owned)> {
        let mut out = Vec::new();
        for r in resources.as_array().into_iter().flatten() {
            let Some(host) = r["hostname"].as_str() else {
                continue;
            };
            let hwthreads = r["hwthreads"]
                .as_array()
                .map(|a| a.iter().filter_map(serde_json::Value::as_i64).collect());
            let accelerators = r["accelerators"].as_array().map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            });
            out.push((
                host.to_string(),
                Owned {
                    hwthreads,
                    accelerators,
                },
            ));
        }
        out
    }
}

/// One unit's series at the scope asked for; `id` is `None` for the node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Unit {
    pub id: Option<String>,
    pub values: Vec<f64>,
}

/// `grids`: one node's series of one metric, all on the same grid.
pub(crate) fn at_scope(
    grids: &[&Grid],
    aggregation: Aggregation,
    target: Scope,
    topology: &Topology,
    owned: &Owned,
) -> Vec<Unit> {
    // Units by (scope, id), sub-units added up unless the unit has its own samples.
    let mut own: BTreeMap<(Scope, &str), Vec<&[f64]>> = BTreeMap::new();
    let mut subs: BTreeMap<(Scope, &str), Vec<&[f64]>> = BTreeMap::new();
    for g in grids {
        let k = (g.key.scope, g.key.scope_id.as_str());
        let to = if g.key.stype.is_empty() {
            &mut own
        } else {
            &mut subs
        };
        to.entry(k).or_default().push(&g.values);
    }
    let mut units: BTreeMap<(Scope, &str), Vec<f64>> = BTreeMap::new();
    for (k, v) in subs {
        units.insert(k, combine(&v, aggregation));
    }
    for (k, v) in own {
        units.insert(k, combine(&v, aggregation));
    }
    units.retain(|(scope, id), _| is_owned(*scope, id, topology, owned));
    let present = |s: Scope| units.keys().any(|(scope, _)| *scope == s);
    let unit_id = |s: Scope, id: &str| (s != Scope::Node).then(|| id.to_string());
    if present(target) {
        let mut out: Vec<Unit> = units
            .into_iter()
            .filter(|((s, _), _)| *s == target)
            .map(|((s, id), values)| Unit {
                id: unit_id(s, id),
                values,
            })
            .collect();
        out.sort_by_key(|u| u.id.as_deref().map(numeric));
        return out;
    }
    // The coarsest scope finer than the target: the least adding up.
    let Some(source) = units
        .keys()
        .map(|(s, _)| *s)
        .filter(|s| s.is_finer_than(target))
        .max()
    else {
        return Vec::new();
    };
    let mut groups: BTreeMap<String, Vec<&[f64]>> = BTreeMap::new();
    for ((s, id), values) in &units {
        if *s != source {
            continue;
        }
        if let Some(parent) = topology.parent(source, id, target) {
            groups.entry(parent).or_default().push(values);
        }
    }
    let mut out: Vec<Unit> = groups
        .into_iter()
        .map(|(id, v)| Unit {
            id: unit_id(target, &id),
            values: combine(&v, aggregation),
        })
        .collect();
    out.sort_by_key(|u| u.id.as_deref().map(numeric));
    out
}

fn numeric(id: &str) -> (i64, String) {
    (id.parse().unwrap_or(i64::MAX), id.to_string())
}

/// Whether the job owns (part of) the unit `id` at `scope`.
fn is_owned(scope: Scope, id: &str, topology: &Topology, owned: &Owned) -> bool {
    match scope {
        Scope::Node | Scope::Llc => true,
        Scope::Accelerator => owned
            .accelerators
            .as_ref()
            .is_none_or(|a| a.iter().any(|x| x == id)),
        Scope::Hwthread => owned
            .hwthreads
            .as_ref()
            .is_none_or(|h| id.parse().is_ok_and(|n: i64| h.contains(&n))),
        _ => owned.hwthreads.as_ref().is_none_or(|h| {
            // A unit the topology does not describe cannot be told apart: keep it.
            h.iter().any(|t| {
                topology
                    .parent(Scope::Hwthread, &t.to_string(), scope)
                    .is_none_or(|p| p == id)
            })
        }),
    }
}

/// Slot by slot: the sum or the mean of the values present; a gap where none is.
pub(crate) fn combine(series: &[&[f64]], aggregation: Aggregation) -> Vec<f64> {
    if let [one] = series {
        return one.to_vec();
    }
    let len = series.iter().map(|s| s.len()).max().unwrap_or(0);
    (0..len)
        .map(|i| {
            let (mut sum, mut n) = (0.0, 0u32);
            for s in series {
                if let Some(v) = s.get(i).filter(|v| !v.is_nan()) {
                    sum += v;
                    n += 1;
                }
            }
            match (n, aggregation) {
                (0, _) => f64::NAN,
                (_, Aggregation::Sum) => sum,
                (_, Aggregation::Avg) => sum / f64::from(n),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::metric::SeriesKey;

    fn grid(scope: Scope, id: &str, stype: (&str, &str), values: &[f64]) -> Grid {
        Grid {
            key: SeriesKey {
                cluster: "c".into(),
                host: "h".into(),
                metric: "m".into(),
                scope,
                scope_id: id.into(),
                stype: stype.0.into(),
                stype_id: stype.1.into(),
            },
            timestep: 60,
            start: 0,
            values: values.to_vec(),
        }
    }

    fn topo() -> Topology {
        serde_json::from_value(serde_json::json!({
            "node": [0,1,2,3], "socket": [[0,1],[2,3]], "memoryDomain": [[0,1],[2,3]],
            "core": [[0],[1],[2],[3]],
        }))
        .unwrap()
    }

    #[test]
    fn hwthreads_add_up_to_sockets_and_the_node() {
        let g: Vec<Grid> = (0..4)
            .map(|i| {
                grid(
                    Scope::Hwthread,
                    &i.to_string(),
                    ("", ""),
                    &[f64::from(i), f64::NAN],
                )
            })
            .collect();
        let refs: Vec<&Grid> = g.iter().collect();
        let all = Owned::default();
        let node = at_scope(&refs, Aggregation::Sum, Scope::Node, &topo(), &all);
        assert_eq!(node.len(), 1);
        assert_eq!(node[0].id, None);
        assert_eq!(node[0].values[0], 6.0);
        assert!(node[0].values[1].is_nan());
        let avg = at_scope(&refs, Aggregation::Avg, Scope::Socket, &topo(), &all);
        assert_eq!(
            avg.iter().map(|u| u.values[0]).collect::<Vec<_>>(),
            vec![0.5, 2.5]
        );
        // A job owning hwthreads 2 and 3 sees only its socket and its share of the node.
        let job = Owned {
            hwthreads: Some(vec![2, 3]),
            accelerators: None,
        };
        let node = at_scope(&refs, Aggregation::Sum, Scope::Node, &topo(), &job);
        assert_eq!(node[0].values[0], 5.0);
        let sockets = at_scope(&refs, Aggregation::Sum, Scope::Socket, &topo(), &job);
        assert_eq!(sockets.len(), 1);
        assert_eq!(sockets[0].id.as_deref(), Some("1"));
    }

    #[test]
    fn a_level_with_its_own_samples_answers_as_it_is() {
        let g = [
            grid(Scope::Node, "", ("", ""), &[100.0]),
            grid(Scope::Hwthread, "0", ("", ""), &[1.0]),
            grid(Scope::Node, "", ("network", "ib0"), &[7.0]),
        ];
        let refs: Vec<&Grid> = g.iter().collect();
        let node = at_scope(
            &refs,
            Aggregation::Sum,
            Scope::Node,
            &topo(),
            &Owned::default(),
        );
        assert_eq!(node[0].values, vec![100.0]);
        // Sub-units alone are added up into their unit.
        let g = [
            grid(Scope::Node, "", ("network", "ib0"), &[7.0]),
            grid(Scope::Node, "", ("network", "eth0"), &[3.0]),
        ];
        let refs: Vec<&Grid> = g.iter().collect();
        let node = at_scope(
            &refs,
            Aggregation::Sum,
            Scope::Node,
            &topo(),
            &Owned::default(),
        );
        assert_eq!(node[0].values, vec![10.0]);
    }
}

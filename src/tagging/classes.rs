//! One job-class rule in cc-backend's format: parameters (from `parameters.json`), the
//! metrics it needs, requirements, variables, the rule, and a hint template. Expressions
//! are evaluated by evalexpr over cc-backend's names: `job.shared`, `job.duration`,
//! `job.numNodes`, …, `<metric>.{min,avg,max}` and `<metric>.limits.{peak,normal,caution,
//! alert}`; the hint's `{{.name}}` are filled in, numbers to 2 decimals.

use evalexpr::{
    build_operator_tree, ContextWithMutableVariables, DefaultNumericTypes, HashMapContext, Node,
    Value,
};
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::LazyLock;

#[derive(Deserialize)]
struct RawClass {
    name: String,
    tag: String,
    #[serde(default)]
    parameters: Vec<String>,
    #[serde(default)]
    metrics: Vec<String>,
    #[serde(default)]
    requirements: Vec<String>,
    #[serde(default)]
    variables: Vec<RawVariable>,
    rule: String,
    #[serde(default)]
    hint: String,
}

#[derive(Deserialize)]
struct RawVariable {
    name: String,
    expr: String,
}

type Expr = Node<DefaultNumericTypes>;

#[derive(Debug)]
pub(super) struct Class {
    pub tag: String,
    parameters: Vec<(String, f64)>,
    metrics: Vec<String>,
    requirements: Vec<Expr>,
    variables: Vec<(String, Expr)>,
    rule: Expr,
    hint: String,
}

/// What a rule may ask of the job.
#[derive(Debug, Clone, Default)]
pub(crate) struct JobFacts {
    pub shared: String,
    pub duration: i64,
    pub num_cores: i64,
    pub num_nodes: i64,
    pub job_state: String,
    pub num_acc: i64,
    pub smt: i64,
}

/// A metric's job statistics and its thresholds on the job's subcluster.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MetricFacts {
    pub min: f64,
    pub avg: f64,
    pub max: f64,
    pub peak: f64,
    pub normal: f64,
    pub caution: f64,
    pub alert: f64,
}

pub(crate) type Metrics = BTreeMap<String, MetricFacts>;

/// The classes a job falls in and what their hints say.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Verdict {
    pub tags: Vec<String>,
    pub hints: Vec<String>,
}

impl Verdict {
    /// The hints as cc-backend writes them to `metaData.message`.
    pub(crate) fn message(&self) -> Option<String> {
        (!self.hints.is_empty()).then(|| self.hints.join("\n"))
    }
}

fn compile(what: &str, text: &str) -> Result<Expr, String> {
    build_operator_tree::<DefaultNumericTypes>(text).map_err(|e| format!("{what} {text:?}: {e}"))
}

impl Class {
    /// A rule file's text; `parameters`: `parameters.json`. An error says which part.
    pub(super) fn parse(text: &str, parameters: &BTreeMap<String, f64>) -> Result<Class, String> {
        let raw: RawClass = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let params = raw
            .parameters
            .iter()
            .map(|p| match parameters.get(p) {
                Some(v) => Ok((p.clone(), *v)),
                None => Err(format!("parameter {p:?} is not in parameters.json")),
            })
            .collect::<Result<_, _>>()?;
        Ok(Class {
            parameters: params,
            metrics: raw.metrics,
            requirements: raw
                .requirements
                .iter()
                .map(|r| compile("requirement", r))
                .collect::<Result<_, _>>()?,
            variables: raw
                .variables
                .iter()
                .map(|v| {
                    Ok((
                        v.name.clone(),
                        compile(&format!("variable {}", v.name), &v.expr)?,
                    ))
                })
                .collect::<Result<_, String>>()?,
            rule: compile("rule", &raw.rule)
                .map_err(|e| format!("{} ({}): {e}", raw.tag, raw.name))?,
            tag: raw.tag,
            hint: raw.hint,
        })
    }

    /// The rendered hint if the job falls in this class. A rule whose metrics the job has
    /// no statistics of, or whose expressions fail, does not hold (as in cc-backend).
    pub(super) fn matches(&self, job: &JobFacts, metrics: &Metrics) -> Option<String> {
        let mut ctx = HashMapContext::<DefaultNumericTypes>::new();
        let mut set = |k: &str, v: Value<DefaultNumericTypes>| ctx.set_value(k.to_string(), v).ok();
        for (k, v) in &self.parameters {
            set(k, Value::Float(*v))?;
        }
        set("job.shared", Value::String(job.shared.clone()))?;
        set("job.jobState", Value::String(job.job_state.clone()))?;
        for (k, v) in [
            ("duration", job.duration),
            ("numCores", job.num_cores),
            ("numNodes", job.num_nodes),
            ("numAcc", job.num_acc),
            ("smt", job.smt),
        ] {
            set(&format!("job.{k}"), Value::Int(v))?;
        }
        for m in &self.metrics {
            let f = metrics.get(m)?;
            for (k, v) in [
                ("min", f.min),
                ("avg", f.avg),
                ("max", f.max),
                ("limits.peak", f.peak),
                ("limits.normal", f.normal),
                ("limits.caution", f.caution),
                ("limits.alert", f.alert),
            ] {
                set(&format!("{m}.{k}"), Value::Float(v))?;
            }
        }
        // A rule that cannot be evaluated (a name it does not define, a type mismatch)
        // does not hold; it is said in the log, since the files are an admin's to fix.
        let failed = |what: &str, e: &dyn std::fmt::Display| -> Option<String> {
            tracing::warn!(rule = %self.tag, part = what, error = %e, "a job-class rule cannot be evaluated");
            None
        };
        for r in &self.requirements {
            match r.eval_boolean_with_context(&ctx) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => return failed("requirement", &e),
            }
        }
        for (name, e) in &self.variables {
            match e.eval_with_context(&ctx) {
                Ok(v) => ctx.set_value(name.clone(), v).ok()?,
                Err(e) => return failed(name, &e),
            }
        }
        match self.rule.eval_boolean_with_context(&ctx) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => return failed("rule", &e),
        }
        Some(render(&self.hint, &ctx))
    }
}

/// `{{.name}}` (Go template fields) replaced by the value of `name`, numbers to 2
/// decimals as cc-backend rounds them; an unknown name stays as it is.
fn render(hint: &str, ctx: &HashMapContext<DefaultNumericTypes>) -> String {
    static FIELD: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\{\{\s*\.([A-Za-z0-9_.]+)\s*\}\}").expect("a valid pattern"));
    FIELD
        .replace_all(hint, |c: &regex::Captures| {
            use evalexpr::Context;
            match ctx.get_value(&c[1]) {
                Some(Value::Float(f)) => format!("{}", (f * 100.0).round() / 100.0),
                Some(Value::Int(i)) => i.to_string(),
                Some(Value::String(s)) => s.clone(),
                Some(Value::Boolean(b)) => b.to_string(),
                _ => c[0].to_string(),
            }
        })
        .into_owned()
}

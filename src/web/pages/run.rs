//! Run: the commands the nodes offer, a form generated from a command's
//! typed arguments (checked by the same code as `monit-cli run`, each
//! error next to its field), a confirmation page naming the nodes and the
//! inventory preconditions, then the job. Operators and admins only: a
//! viewer gets 403 before anything is sent, and configd refuses a run by
//! a viewer's link in any case.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::{client_error, error_page, html, Chrome};
use crate::model::command::CommandJson;
use crate::net::client::{unexpected, ClientError};
use crate::net::proto::{CommandOffer, RequestBody, ResolveTargets, ResponseBody, RunRequest};
use crate::ops::spec::{ArgType, CommandSpec};
use crate::web::session::{Authed, Session};

fn forbidden(s: &Session) -> Response {
    error_page(
        Some(s.chrome("run")),
        StatusCode::FORBIDDEN,
        "Running commands needs an operator or admin token.",
    )
}

async fn offers(s: &Session) -> Result<Vec<CommandOffer>, ClientError> {
    Ok(s.client.query_commands().await?.commands)
}

#[derive(Template)]
#[template(path = "run_list.html")]
struct RunList<'a> {
    chrome: Option<Chrome>,
    rows: Vec<CommandJson<'a>>,
}

pub async fn list(Authed(s, _): Authed) -> Result<Response, Response> {
    if !s.can_run() {
        return Err(forbidden(&s));
    }
    let offers = offers(&s).await.map_err(|e| client_error(&s, "run", e))?;
    let mut rows: Vec<CommandJson> = offers.iter().map(CommandJson::from).collect();
    rows.sort_by(|a, b| a.name.cmp(b.name));
    rows.dedup_by(|a, b| a.name == b.name);
    Ok(html(&RunList {
        chrome: Some(s.chrome("run")),
        rows,
    }))
}

/// One argument's form field.
pub struct Field {
    /// The form field's name: `arg0`, `arg1`, ...
    pub input: String,
    pub label: String,
    pub rule: String,
    pub value: String,
    pub error: String,
    /// `number`, `text`, or `choice` (among `choices`).
    pub kind: &'static str,
    pub choices: Vec<String>,
    pub placeholder: String,
}

#[derive(Template)]
#[template(path = "run_form.html")]
struct RunForm {
    chrome: Option<Chrome>,
    name: String,
    action: String,
    description: String,
    signature: String,
    fields: Vec<Field>,
    target: String,
    target_error: String,
    target_hint: String,
    error: String,
}

/// The submitted values of `spec`'s arguments, in order.
fn values(spec: &CommandSpec, form: &HashMap<String, String>) -> Vec<String> {
    (0..spec.args.len())
        .map(|i| {
            form.get(&format!("arg{i}"))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        })
        .collect()
}

fn fields(spec: &CommandSpec, values: &[String], errors: &BTreeMap<usize, String>) -> Vec<Field> {
    spec.args
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let (kind, choices, placeholder) = match &a.kind {
                ArgType::Int { .. } => ("number", Vec::new(), String::new()),
                ArgType::Enum { values } => ("choice", values.clone(), String::new()),
                ArgType::Date { format } => (
                    "text",
                    Vec::new(),
                    format.clone().unwrap_or_else(|| "%Y%m%d".into()),
                ),
                _ => ("text", Vec::new(), String::new()),
            };
            Field {
                input: format!("arg{i}"),
                label: a.name.clone(),
                rule: a.rule(),
                value: values.get(i).cloned().unwrap_or_default(),
                error: errors.get(&i).cloned().unwrap_or_default(),
                kind,
                choices,
                placeholder,
            }
        })
        .collect()
}

#[derive(Default)]
struct FormState<'a> {
    values: &'a [String],
    errors: BTreeMap<usize, String>,
    target: String,
    target_error: String,
    error: String,
}

fn render_form(s: &Session, spec: &CommandSpec, st: FormState<'_>, status: StatusCode) -> Response {
    let mut r = html(&RunForm {
        chrome: Some(s.chrome("run")),
        name: spec.name.clone(),
        action: format!("/run/{}", super::encode(&spec.name)),
        description: spec.description.clone(),
        signature: spec.signature(),
        fields: fields(spec, st.values, &st.errors),
        target: st.target,
        target_error: st.target_error,
        target_hint: match &spec.inventory {
            Some(inv) => format!(
                "leave empty: it runs on the node hosting the {} named by `{}`, and only there",
                inv.kind, inv.key
            ),
            None => "node=NAME, label.K=V, KIND=KEY or all".into(),
        },
        error: st.error,
    });
    *r.status_mut() = status;
    r
}

/// The spec of `name`, or the page saying there is none.
async fn spec_of(s: &Session, name: &str) -> Result<CommandSpec, Response> {
    let offers = offers(s).await.map_err(|e| client_error(s, "run", e))?;
    offers
        .into_iter()
        .find(|o| o.spec.name == name)
        .map(|o| o.spec)
        .ok_or_else(|| {
            error_page(
                Some(s.chrome("run")),
                StatusCode::NOT_FOUND,
                &format!("No node offers a command `{name}`."),
            )
        })
}

pub async fn form(Authed(s, _): Authed, Path(name): Path<String>) -> Result<Response, Response> {
    if !s.can_run() {
        return Err(forbidden(&s));
    }
    let spec = spec_of(&s, &name).await?;
    let values = vec![String::new(); spec.args.len()];
    let st = FormState {
        values: &values,
        ..FormState::default()
    };
    Ok(render_form(&s, &spec, st, StatusCode::OK))
}

/// What the confirmation page says about the command's inventory item.
pub struct Precondition {
    pub attr: String,
    pub wanted: String,
    pub now: String,
    pub holds: bool,
}

#[derive(Template)]
#[template(path = "run_confirm.html")]
struct RunConfirm {
    chrome: Option<Chrome>,
    name: String,
    action: String,
    args: Vec<(String, String, String)>,
    target: String,
    nodes: Vec<String>,
    item: String,
    item_found: bool,
    requires: Vec<Precondition>,
    effects: Vec<(String, String)>,
}

/// Checks the form like `monit-cli run` checks its arguments: each value
/// against its type, then the target resolved by configd. On success, the
/// values, the target and its nodes.
async fn checked(
    s: &Session,
    spec: &CommandSpec,
    form: &HashMap<String, String>,
) -> Result<(Vec<String>, String, Vec<String>), Response> {
    let values = values(spec, form);
    let mut errors = BTreeMap::new();
    for (i, (a, v)) in spec.args.iter().zip(&values).enumerate() {
        if let Err(why) = a.check(v) {
            errors.insert(i, why);
        }
    }
    let target = form
        .get("target")
        .map(|t| t.trim().to_string())
        .unwrap_or_default();
    let mut st = FormState {
        values: &values,
        errors,
        target: target.clone(),
        ..FormState::default()
    };
    // An inventory-bound command runs on its item's node: no target needed.
    if target.is_empty() && spec.inventory.is_none() {
        st.target_error = "Say where to run it.".into();
    }
    if !st.errors.is_empty() || !st.target_error.is_empty() {
        return Err(render_form(s, spec, st, StatusCode::UNPROCESSABLE_ENTITY));
    }
    if let Err(e) = spec.check_args(&values) {
        st.error = e;
        return Err(render_form(s, spec, st, StatusCode::UNPROCESSABLE_ENTITY));
    }
    // configd answers after every check the run would make, as for
    // `monit-cli run`: a refusal comes before any confirmation.
    let resolved = s
        .client
        .one(RequestBody::ResolveTargets(ResolveTargets {
            target: target.clone(),
            run: Some(run_request(spec, &values, &target)),
        }))
        .await;
    match resolved {
        Ok(ResponseBody::Targets(t)) if !t.nodes.is_empty() => Ok((values, target, t.nodes)),
        Ok(ResponseBody::Targets(_)) => {
            st.target_error = format!("`{target}` names no node.");
            Err(render_form(s, spec, st, StatusCode::UNPROCESSABLE_ENTITY))
        }
        Ok(other) => Err(client_error(s, "run", unexpected(&other))),
        Err(ClientError::Remote(e)) if e.code == crate::net::proto::ErrorCode::Forbidden => {
            Err(forbidden(s))
        }
        Err(ClientError::Remote(e)) => {
            st.error = e.message;
            Err(render_form(s, spec, st, StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(e) => Err(client_error(s, "run", e)),
    }
}

/// The run the form describes (never a forced target: that is for
/// `monit-cli run --force-target` with a reason).
fn run_request(spec: &CommandSpec, values: &[String], target: &str) -> RunRequest {
    RunRequest {
        command: spec.name.clone(),
        args: values.to_vec(),
        target: target.to_string(),
        timeout_ms: None,
        force_target: false,
        reason: String::new(),
    }
}

/// Role, then CSRF, then the command's spec, then the form `checked`:
/// the spec, the values, the target and its nodes.
async fn admit(
    s: &Session,
    name: &str,
    form: &HashMap<String, String>,
) -> Result<(CommandSpec, Vec<String>, String, Vec<String>), Response> {
    if !s.can_run() {
        return Err(forbidden(s));
    }
    s.check_csrf(form.get("csrf"))?;
    let spec = spec_of(s, name).await?;
    let (values, target, nodes) = checked(s, &spec, form).await?;
    Ok((spec, values, target, nodes))
}

pub async fn check(
    Authed(s, _): Authed,
    Path(name): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Response> {
    let (spec, values, target, nodes) = admit(&s, &name, &form).await?;
    let mut page = RunConfirm {
        chrome: Some(s.chrome("run")),
        name: spec.name.clone(),
        action: format!("/run/{}/confirm", super::encode(&spec.name)),
        args: spec
            .args
            .iter()
            .zip(&values)
            .enumerate()
            .map(|(i, (a, v))| (format!("arg{i}"), a.name.clone(), v.clone()))
            .collect(),
        target,
        nodes,
        item: String::new(),
        item_found: false,
        requires: Vec::new(),
        effects: Vec::new(),
    };
    if let Some(inv) = &spec.inventory {
        let key = spec.arg(&values, &inv.key).unwrap_or_default().to_string();
        page.item = format!("{} {key}", inv.kind);
        let asked = vec![format!("kind={}", inv.kind), format!("key={key}")];
        let items = s.client.query_inventory(asked).await;
        let found = items
            .map_err(|e| client_error(&s, "run", e))?
            .into_iter()
            .find(|i| i.key == key);
        page.item_found = found.is_some();
        page.requires = inv
            .requires
            .iter()
            .map(|(k, wanted)| {
                let now = found
                    .as_ref()
                    .and_then(|i| i.attrs.get(k).cloned())
                    .unwrap_or_else(|| "(unset)".into());
                Precondition {
                    attr: k.clone(),
                    holds: &now == wanted,
                    wanted: wanted.clone(),
                    now,
                }
            })
            .collect();
        page.effects = inv
            .on_success
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    }
    Ok(html(&page))
}

pub async fn confirm(
    Authed(s, _): Authed,
    Path(name): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Response> {
    let (spec, values, target, _) = admit(&s, &name, &form).await?;
    let asked = RequestBody::Run(run_request(&spec, &values, &target));
    match super::start_job(&s, "run", asked).await? {
        Ok(job) => {
            tracing::info!(user = %s.user, job, command = %spec.name, "web console: run");
            Ok(Redirect::to(&format!("/jobs/{job}")).into_response())
        }
        Err(e) if e.code == crate::net::proto::ErrorCode::Forbidden => Err(forbidden(&s)),
        Err(e) => {
            let st = FormState {
                values: &values,
                target: form.get("target").cloned().unwrap_or_default(),
                error: e.message,
                ..FormState::default()
            };
            Err(render_form(&s, &spec, st, StatusCode::UNPROCESSABLE_ENTITY))
        }
    }
}

//! Runbooks: configd's runbooks, a form from a runbook's typed arguments,
//! configd's plan (each step: node, command, file, inventory changes, undo)
//! with a confirmation that runs exactly that plan (its digest), then the
//! job page, where the steps and their output arrive live. Operators and
//! admins only, as Run; configd checks the runbook's own role.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::run::Field;
use super::{client_error, error_page, filters, html, Chrome};
use crate::model::command::RunbookJson;
use crate::net::client::{unexpected, ClientError};
use crate::net::proto::{
    ErrorCode, RequestBody, ResponseBody, RunbookOffer, RunbookPlan, RunbookRequest,
};
use crate::web::session::{Authed, Session};

const NEEDS_RUNNER: &str = "Running runbooks needs an operator or admin token.";

fn forbidden(s: &Session, why: &str) -> Response {
    error_page(Some(s.chrome("runbooks")), StatusCode::FORBIDDEN, why)
}

async fn runbooks(s: &Session) -> Result<Vec<RunbookOffer>, ClientError> {
    Ok(s.client.query_commands().await?.runbooks)
}

#[derive(Template)]
#[template(path = "runbook_list.html")]
struct RunbookList<'a> {
    chrome: Option<Chrome>,
    rows: Vec<RunbookJson<'a>>,
}

pub async fn list(Authed(s, _): Authed) -> Result<Response, Response> {
    if !s.can_run() {
        return Err(forbidden(&s, NEEDS_RUNNER));
    }
    let all = runbooks(&s)
        .await
        .map_err(|e| client_error(&s, "runbooks", e))?;
    Ok(html(&RunbookList {
        chrome: Some(s.chrome("runbooks")),
        rows: all.iter().map(RunbookJson::from).collect(),
    }))
}

#[derive(Template)]
#[template(path = "runbook_form.html")]
struct RunbookForm {
    chrome: Option<Chrome>,
    name: String,
    action: String,
    description: String,
    usage: String,
    fields: Vec<Field>,
    error: String,
}

fn fields(r: &RunbookOffer, form: &HashMap<String, String>) -> Vec<Field> {
    r.args
        .iter()
        .enumerate()
        .map(|(i, a)| Field {
            input: format!("arg{i}"),
            label: a.name.clone(),
            rule: a.rule.clone(),
            value: form.get(&format!("arg{i}")).cloned().unwrap_or_default(),
            error: String::new(),
            kind: if a.kind == "int" { "number" } else { "text" },
            choices: Vec::new(),
            placeholder: if a.kind == "keys" {
                "keys, separated by spaces".into()
            } else {
                String::new()
            },
        })
        .collect()
}

fn render_form(
    s: &Session,
    r: &RunbookOffer,
    form: &HashMap<String, String>,
    error: String,
    status: StatusCode,
) -> Response {
    let mut page = html(&RunbookForm {
        chrome: Some(s.chrome("runbooks")),
        name: r.name.clone(),
        action: format!("/runbooks/{}", super::encode(&r.name)),
        description: r.description.clone(),
        usage: r.usage.clone(),
        fields: fields(r, form),
        error,
    });
    *page.status_mut() = status;
    page
}

/// Role, CSRF (on posts), then the runbook.
async fn admit(
    s: &Session,
    name: &str,
    form: Option<&HashMap<String, String>>,
) -> Result<RunbookOffer, Response> {
    if !s.can_run() {
        return Err(forbidden(s, NEEDS_RUNNER));
    }
    if let Some(form) = form {
        s.check_csrf(form.get("csrf"))?;
    }
    let all = runbooks(s)
        .await
        .map_err(|e| client_error(s, "runbooks", e))?;
    all.into_iter().find(|r| r.name == name).ok_or_else(|| {
        error_page(
            Some(s.chrome("runbooks")),
            StatusCode::NOT_FOUND,
            &format!("configd has no runbook `{name}`."),
        )
    })
}

pub async fn form(Authed(s, _): Authed, Path(name): Path<String>) -> Result<Response, Response> {
    let r = admit(&s, &name, None).await?;
    Ok(render_form(
        &s,
        &r,
        &HashMap::new(),
        String::new(),
        StatusCode::OK,
    ))
}

/// The submitted arguments, in order; a `keys` field gives one argument
/// per word.
fn args(r: &RunbookOffer, form: &HashMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (i, a) in r.args.iter().enumerate() {
        let v = form
            .get(&format!("arg{i}"))
            .map(|v| v.trim().to_string())
            .unwrap_or_default();
        if a.kind == "keys" {
            out.extend(v.split_whitespace().map(str::to_string));
        } else {
            out.push(v);
        }
    }
    out
}

#[derive(Template)]
#[template(path = "runbook_plan.html")]
struct PlanPage {
    chrome: Option<Chrome>,
    name: String,
    action: String,
    args: Vec<(String, String)>,
    digest: String,
    steps: Vec<crate::net::proto::StepView>,
    runs: usize,
}

/// configd's plan, or the form with configd's reason.
async fn plan(
    s: &Session,
    r: &RunbookOffer,
    form: &HashMap<String, String>,
) -> Result<RunbookPlan, Response> {
    let asked = RequestBody::RunbookPlan(RunbookRequest {
        name: r.name.clone(),
        args: args(r, form),
        digest: None,
    });
    match s.client.one(asked).await {
        Ok(ResponseBody::RunbookPlanned(p)) => Ok(p),
        Ok(other) => Err(client_error(s, "runbooks", unexpected(&other))),
        Err(ClientError::Remote(e)) => Err(render_form(
            s,
            r,
            form,
            e.message,
            StatusCode::UNPROCESSABLE_ENTITY,
        )),
        Err(e) => Err(client_error(s, "runbooks", e)),
    }
}

pub async fn check(
    Authed(s, _): Authed,
    Path(name): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Response> {
    let r = admit(&s, &name, Some(&form)).await?;
    let p = plan(&s, &r, &form).await?;
    Ok(html(&PlanPage {
        chrome: Some(s.chrome("runbooks")),
        name: r.name.clone(),
        action: format!("/runbooks/{}/run", super::encode(&r.name)),
        args: (0..r.args.len())
            .map(|i| {
                let key = format!("arg{i}");
                let v = form.get(&key).cloned().unwrap_or_default();
                (key, v)
            })
            .collect(),
        runs: p.runs(),
        steps: p.steps,
        digest: p.digest,
    }))
}

pub async fn run(
    Authed(s, _): Authed,
    Path(name): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Response> {
    let r = admit(&s, &name, Some(&form)).await?;
    let asked = RequestBody::RunbookRun(RunbookRequest {
        name: r.name.clone(),
        args: args(&r, &form),
        digest: form.get("digest").cloned(),
    });
    match super::start_job(&s, "runbooks", asked).await? {
        Ok(job) => {
            tracing::info!(user = %s.user, job, runbook = %r.name, "web console: runbook");
            Ok(Redirect::to(&format!("/jobs/{job}")).into_response())
        }
        Err(e) if e.code == ErrorCode::Forbidden => Err(forbidden(&s, &e.message)),
        Err(e) => Err(render_form(
            &s,
            &r,
            &form,
            e.message,
            StatusCode::UNPROCESSABLE_ENTITY,
        )),
    }
}

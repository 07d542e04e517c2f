//! A tracing layer that turns each event into a `LogLine` on the pipe.
//! It formats the message and fields, then the fields of the spans it
//! happened in (so a line names the session, node or client it concerns),
//! and does a `try_send`: it never blocks the thread that logs.

use std::fmt::Write as _;
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use super::pipe::Pipe;
use crate::net::proto::{Level, LogLine};
use crate::timefmt::now_ms;

pub struct PipeLayer {
    pipe: Arc<Pipe>,
}

impl PipeLayer {
    pub fn new(pipe: Arc<Pipe>) -> PipeLayer {
        PipeLayer { pipe }
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
    source: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message.push_str(value),
            "source" => self.source = Some(value.to_string()),
            name => {
                let _ = write!(self.rest, " {name}={value}");
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            "source" => self.source = Some(format!("{value:?}")),
            name => {
                let _ = write!(self.rest, " {name}={value:?}");
            }
        }
    }
}

/// A span's fields, formatted once when it is made (` k=v` each).
struct SpanFields(String);

/// The `node` field of a span named `node`: the lines logged in it are
/// that node's (the demo runs several node agents in one process).
struct NodeOf(String);

impl<S> Layer<S> for PipeLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        attrs.record(&mut f);
        if f.rest.is_empty() {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        if attrs.metadata().name() == "node" {
            if let Some(node) = f.rest.strip_prefix(" node=") {
                span.extensions_mut().insert(NodeOf(node.to_string()));
                return;
            }
        }
        span.extensions_mut().insert(SpanFields(f.rest));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let mut message = f.message;
        message.push_str(&f.rest);
        let mut node = String::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                let ext = span.extensions();
                if let Some(fields) = ext.get::<SpanFields>() {
                    message.push_str(&fields.0);
                }
                if let Some(of) = ext.get::<NodeOf>() {
                    node.clone_from(&of.0);
                }
            }
        }
        self.pipe.submit(LogLine {
            time_ms: now_ms(),
            node,
            level: Level::from(*event.metadata().level()),
            source: f.source.unwrap_or_else(|| "daemon".to_string()),
            message,
        });
    }
}

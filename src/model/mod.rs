//! One module per entity (node, check and problem, event, downtime, job,
//! inventory item, log line, command; and the token role): the serde type
//! that crosses the wire (also re-exported from `net::proto`), its
//! `-o json` form, and the fields a
//! filter may name. Each module's tests fail when a wire field is neither
//! printed nor left out on purpose, or a printed field is not filterable.

pub mod check;
pub mod command;
pub mod downtime;
pub mod event;
pub mod item;
pub mod job;
pub mod log;
pub mod node;
pub mod role;

/// A fieldless enum whose variants each have one name, written once: it is
/// both the serde name (wire and JSON) and what `as_str` returns.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)+
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire)] $variant,)+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }
        }
    };
}
pub(crate) use named_enum;

/// A JSON form as a `serde_json::Value`, to filter (and to print with
/// other rows: a value's keys come out sorted, as `-o json` has always
/// printed them).
pub(crate) fn to_value(v: &impl serde::Serialize) -> serde_json::Value {
    // A JSON form has string keys and finite numbers: it cannot fail.
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// For `skip_serializing_if` on flags sent only when set.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// Every top-level field of `wire` is in `json` under the same name, or
/// renamed (`renames`: wire name, JSON name; an empty JSON name is a field
/// the JSON leaves out on purpose).
#[cfg(test)]
pub(crate) fn assert_wire_shown(
    wire: &serde_json::Value,
    json: &serde_json::Value,
    renames: &[(&str, &str)],
) {
    let wire = wire.as_object().expect("a struct");
    let json = json.as_object().expect("a struct");
    for key in wire.keys() {
        let shown = match renames.iter().find(|(w, _)| w == key) {
            Some((_, "")) => continue,
            Some((_, j)) => j,
            None => key.as_str(),
        };
        assert!(
            json.contains_key(shown),
            "wire field `{key}` is not in the JSON (print it, or list it as left out)"
        );
    }
}

//! The soft/hard state machine of one check, with Nagios semantics:
//!
//! - ok -> problem is soft (attempt 1) until `max_attempts` results in a row
//!   are problems, rechecked at `retry_interval`; then it is hard.
//!   With `max_attempts = 1` the first problem is hard at once.
//! - a hard problem -> another problem is a hard change;
//! - a problem -> ok is a hard recovery from a hard problem, a soft
//!   recovery from a soft one.
//!
//! Runs on the node (to know when to retry) and in configd (the record).

use serde::{Deserialize, Serialize};

use super::{CheckState, StateType};

/// Where a check stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub state: CheckState,
    pub state_type: StateType,
    /// 1..=max_attempts; the problem's confirmation count.
    pub attempt: u32,
    /// Epoch ms of the last result (0: never).
    pub last_check_ms: i64,
    /// Epoch ms of the last state change (0: never).
    pub last_change_ms: i64,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            state: CheckState::Pending,
            state_type: StateType::Hard,
            attempt: 1,
            last_check_ms: 0,
            last_change_ms: 0,
        }
    }
}

/// What one result did to the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Same state, nothing to report.
    None,
    /// First result of a pending check.
    Initial,
    /// A problem not yet confirmed, or a change between unconfirmed problems.
    Soft,
    /// A confirmed problem, or a hard problem turning into another.
    HardProblem,
    /// Back to ok from a soft problem.
    SoftRecovery,
    /// Back to ok from a hard problem.
    HardRecovery,
}

impl Change {
    /// Whether the state changed (every such change is an event).
    pub fn is_state_change(self) -> bool {
        !matches!(self, Change::None)
    }
}

impl Status {
    /// Applies one result.
    pub fn step(&self, result: CheckState, max_attempts: u32, now_ms: i64) -> (Status, Change) {
        let max = max_attempts.max(1);
        let prev = *self;
        let mut next = Status {
            last_check_ms: now_ms,
            ..prev
        };
        let change = match (prev.state, result) {
            (_, CheckState::Pending) => Change::None,
            (CheckState::Pending, r) => {
                if r.is_problem() && max > 1 {
                    next.state_type = StateType::Soft;
                    next.attempt = 1;
                } else {
                    next.state_type = StateType::Hard;
                    next.attempt = 1;
                }
                next.state = r;
                if r.is_problem() && max == 1 {
                    Change::HardProblem
                } else if r.is_problem() {
                    Change::Soft
                } else {
                    Change::Initial
                }
            }
            (CheckState::Ok, CheckState::Ok) => {
                next.state_type = StateType::Hard;
                next.attempt = 1;
                Change::None
            }
            (CheckState::Ok, r) => {
                next.state = r;
                next.attempt = 1;
                if max == 1 {
                    next.state_type = StateType::Hard;
                    Change::HardProblem
                } else {
                    next.state_type = StateType::Soft;
                    Change::Soft
                }
            }
            (_, CheckState::Ok) => {
                next.state = CheckState::Ok;
                next.attempt = 1;
                if prev.state_type == StateType::Hard {
                    next.state_type = StateType::Hard;
                    Change::HardRecovery
                } else {
                    next.state_type = StateType::Soft;
                    Change::SoftRecovery
                }
            }
            (p, r) => {
                next.state = r;
                if prev.state_type == StateType::Hard {
                    next.attempt = max;
                    if p == r {
                        Change::None
                    } else {
                        Change::HardProblem
                    }
                } else {
                    next.attempt = (prev.attempt + 1).min(max);
                    if next.attempt >= max {
                        next.state_type = StateType::Hard;
                        Change::HardProblem
                    } else if p == r {
                        Change::None
                    } else {
                        Change::Soft
                    }
                }
            }
        };
        if prev.state != next.state {
            next.last_change_ms = now_ms;
        }
        (next, change)
    }

    /// Whether the next check is a retry (soft problem: `retry_interval`).
    pub fn retrying(&self) -> bool {
        self.state.is_problem() && self.state_type == StateType::Soft
    }
}

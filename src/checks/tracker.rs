//! What configd keeps per check on top of the soft/hard machine: flapping
//! (Nagios's weighted percent state change over the last 21 results),
//! acknowledgements, downtime, and whether a change notifies. Pure: the
//! caller passes the time, and acts on the returned `Outcome`.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::state::{Change, Status};
use super::{CheckState, StateType};

/// Results kept for flapping detection (Nagios: 21).
pub const FLAP_HISTORY: usize = 21;
/// Flapping stops at or below this percent state change.
pub const FLAP_LOW: f64 = 5.0;
/// Flapping starts at or above this percent state change.
pub const FLAP_HIGH: f64 = 20.0;

crate::model::named_enum! {
    /// Why a notification is sent (`MONIT_EVENT`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub enum NotifyKind {
        Problem = "problem",
        Recovery = "recovery",
        FlappingStart = "flapping_start",
        FlappingStop = "flapping_stop",
        Acknowledgement = "acknowledgement",
        DowntimeStart = "downtime_start",
        DowntimeEnd = "downtime_end",
        /// A node went down (its connection ended).
        NodeDown = "node_down",
        /// A node whose `node_down` was sent is back.
        NodeUp = "node_up",
    }
}

/// An operator's acknowledgement of a problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub who: String,
    pub comment: String,
    /// Kept through problem -> problem changes (cleared only on recovery).
    pub sticky: bool,
    pub time_ms: i64,
}

/// One check as configd tracks it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tracker {
    pub status: Status,
    pub max_attempts: u32,
    pub history: VecDeque<CheckState>,
    pub flapping: bool,
    pub percent_change: f64,
    pub ack: Option<Ack>,
    pub in_downtime: bool,
    /// A problem notification went out for the current problem.
    pub problem_notified: bool,
}

/// What one result (or action) did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub change: Change,
    pub previous: Status,
    /// Some(true): flapping started; Some(false): it stopped.
    pub flapping: Option<bool>,
    /// An acknowledgement was cleared by this result.
    pub ack_cleared: bool,
    pub notify: Option<NotifyKind>,
}

impl Tracker {
    pub fn new(max_attempts: u32) -> Tracker {
        Tracker {
            max_attempts: max_attempts.max(1),
            ..Tracker::default()
        }
    }

    /// Whether problem notifications are held now.
    pub fn held(&self) -> bool {
        self.ack.is_some() || self.in_downtime || self.flapping
    }

    pub fn is_hard_problem(&self) -> bool {
        self.status.state.is_problem() && self.status.state_type == StateType::Hard
    }

    /// Applies one result.
    pub fn result(&mut self, state: CheckState, now_ms: i64) -> Outcome {
        let previous = self.status;
        let (next, change) = self.status.step(state, self.max_attempts, now_ms);
        self.status = next;
        // Flapping: as Nagios, only hard states and soft recoveries are
        // recorded (soft retries would count one problem several times).
        if next.state_type == StateType::Hard || change == Change::SoftRecovery {
            self.history.push_back(state);
        }
        while self.history.len() > FLAP_HISTORY {
            self.history.pop_front();
        }
        self.percent_change = percent_state_change(&self.history);
        let mut flapping = None;
        if !self.flapping && self.percent_change >= FLAP_HIGH {
            self.flapping = true;
            flapping = Some(true);
        } else if self.flapping && self.percent_change <= FLAP_LOW {
            self.flapping = false;
            flapping = Some(false);
        }
        // Acknowledgements: cleared on recovery; a non-sticky one also on
        // any state change.
        let mut ack_cleared = false;
        if let Some(ack) = &self.ack {
            let recovered = next.state == CheckState::Ok;
            let changed = previous.state != next.state;
            if recovered || (changed && !ack.sticky) {
                self.ack = None;
                ack_cleared = true;
            }
        }
        let notify = match (flapping, change) {
            (Some(true), _) if !self.in_downtime => Some(NotifyKind::FlappingStart),
            (Some(false), _) if !self.in_downtime => Some(NotifyKind::FlappingStop),
            (Some(_), _) => None,
            (None, Change::HardProblem) if !self.held() => {
                self.problem_notified = true;
                Some(NotifyKind::Problem)
            }
            (None, Change::HardRecovery)
                if self.problem_notified && !self.in_downtime && !self.flapping =>
            {
                Some(NotifyKind::Recovery)
            }
            _ => None,
        };
        if next.state == CheckState::Ok {
            self.problem_notified = false;
        }
        Outcome {
            change,
            previous,
            flapping,
            ack_cleared,
            notify,
        }
    }

    /// Acknowledges the current problem. Fails when there is none.
    pub fn acknowledge(&mut self, ack: Ack) -> Result<Option<NotifyKind>, String> {
        if !self.status.state.is_problem() {
            return Err(format!(
                "the check is {}; only a problem can be acknowledged",
                self.status.state
            ));
        }
        self.ack = Some(ack);
        Ok(Some(NotifyKind::Acknowledgement))
    }

    /// Enters or leaves downtime; the notification that goes with it.
    pub fn set_downtime(&mut self, on: bool) -> Option<NotifyKind> {
        if self.in_downtime == on {
            return None;
        }
        self.in_downtime = on;
        Some(if on {
            NotifyKind::DowntimeStart
        } else {
            NotifyKind::DowntimeEnd
        })
    }
}

/// Nagios's weighted percent state change: transitions between consecutive
/// results, the oldest weighted 0.75 rising to 1.25 for the newest, over
/// the 20 transitions of 21 results.
pub fn percent_state_change(history: &VecDeque<CheckState>) -> f64 {
    let n = history.len();
    if n < 2 {
        return 0.0;
    }
    let slots = (FLAP_HISTORY - 1) as f64; // 20 transitions
    let mut weighted = 0.0;
    // Transition j (between history[j-1] and history[j]) sits at position
    // x in 1..=20 counted so the newest is 20.
    for j in 1..n {
        if history[j - 1] != history[j] {
            let x = (FLAP_HISTORY - n + j) as f64;
            weighted += (x - 1.0) * 0.5 / (slots - 1.0) + 0.75;
        }
    }
    weighted * 100.0 / slots
}

#[cfg(test)]
mod tests {
    use super::*;
    use CheckState::{Critical as C, Ok as O, Warning as W};
    use NotifyKind::*;
    use StateType::{Hard as H, Soft as S};

    /// A step of a replay.
    enum Step {
        R(CheckState),
        AckSticky,
        Ack,
        DowntimeOn,
        DowntimeOff,
    }
    use Step::*;

    /// Replays `steps` with `max_attempts`, checking after each:
    /// (state, state type, attempt, notification).
    fn replay(max_attempts: u32, steps: &[(Step, CheckState, StateType, u32, Option<NotifyKind>)]) {
        let mut t = Tracker::new(max_attempts);
        for (i, (step, state, st, attempt, notify)) in steps.iter().enumerate() {
            let now = (i as i64 + 1) * 1000;
            let got = match step {
                R(s) => t.result(*s, now).notify,
                Ack | AckSticky => t
                    .acknowledge(super::Ack {
                        who: "op".into(),
                        comment: "looking".into(),
                        sticky: matches!(step, AckSticky),
                        time_ms: now,
                    })
                    .unwrap(),
                DowntimeOn => t.set_downtime(true),
                DowntimeOff => t.set_downtime(false),
            };
            let s = t.status;
            assert_eq!(
                (s.state, s.state_type, s.attempt, got),
                (*state, *st, *attempt, *notify),
                "max_attempts {max_attempts}, step {i}"
            );
        }
    }

    #[test]
    fn max_attempts_3_soft_then_hard_then_recovery() {
        replay(
            3,
            &[
                (R(O), O, H, 1, None),
                (R(C), C, S, 1, None),
                (R(C), C, S, 2, None),
                (R(C), C, H, 3, Some(Problem)),
                (R(C), C, H, 3, None),
                // hard problem -> another problem is a hard change
                (R(W), W, H, 3, Some(Problem)),
                (R(O), O, H, 1, Some(Recovery)),
                // soft problem then soft recovery: no notification
                (R(W), W, S, 1, None),
                (R(C), C, S, 2, None),
                (R(O), O, S, 1, None),
                (R(O), O, H, 1, None),
            ],
        );
    }

    #[test]
    fn max_attempts_1_is_hard_at_once() {
        replay(
            1,
            &[
                (R(O), O, H, 1, None),
                (R(C), C, H, 1, Some(Problem)),
                (R(C), C, H, 1, None),
                (R(W), W, H, 1, Some(Problem)),
                (R(O), O, H, 1, Some(Recovery)),
                (R(O), O, H, 1, None),
            ],
        );
    }

    #[test]
    fn non_sticky_ack_is_cleared_by_any_change() {
        replay(
            1,
            &[
                (R(O), O, H, 1, None),
                (R(C), C, H, 1, Some(Problem)),
                (Ack, C, H, 1, Some(Acknowledgement)),
                (R(C), C, H, 1, None),
                // cleared by the change, which notifies
                (R(W), W, H, 1, Some(Problem)),
                (R(O), O, H, 1, Some(Recovery)),
            ],
        );
    }

    #[test]
    fn sticky_ack_holds_until_recovery() {
        replay(
            3,
            &[
                (R(O), O, H, 1, None),
                (R(C), C, S, 1, None),
                (R(C), C, S, 2, None),
                (R(C), C, H, 3, Some(Problem)),
                (AckSticky, C, H, 3, Some(Acknowledgement)),
                // held through problem -> problem
                (R(W), W, H, 3, None),
                (R(W), W, H, 3, None),
                // cleared by recovery, which notifies (a problem was sent)
                (R(O), O, H, 1, Some(Recovery)),
                (R(O), O, H, 1, None),
            ],
        );
    }

    #[test]
    fn downtime_holds_notifications() {
        replay(
            3,
            &[
                (R(O), O, H, 1, None),
                (DowntimeOn, O, H, 1, Some(DowntimeStart)),
                (R(C), C, S, 1, None),
                (R(C), C, S, 2, None),
                (R(C), C, H, 3, None),
                (R(O), O, H, 1, None),
                (DowntimeOff, O, H, 1, Some(DowntimeEnd)),
                (R(C), C, S, 1, None),
                (R(C), C, S, 2, None),
                (R(C), C, H, 3, Some(Problem)),
            ],
        );
    }

    #[test]
    fn flapping_starts_and_stops() {
        // Percent after 3 changes: 18.4; after 4: 24.2 -> flapping.
        let mut steps = vec![
            (R(O), O, H, 1, None),
            (R(C), C, H, 1, Some(Problem)),
            (R(O), O, H, 1, Some(Recovery)),
            (R(C), C, H, 1, Some(Problem)),
            (R(O), O, H, 1, Some(FlappingStart)),
            // held while flapping
            (R(C), C, H, 1, None),
            (R(O), O, H, 1, None),
        ];
        // Steady ok until only one change is left in the window (<= 5%).
        for _ in 0..18 {
            steps.push((R(O), O, H, 1, None));
        }
        steps.push((R(O), O, H, 1, Some(FlappingStop)));
        steps.push((R(C), C, H, 1, Some(Problem)));
        replay(1, &steps);
    }

    #[test]
    fn percent_matches_nagios_weights() {
        let mut h: VecDeque<CheckState> = VecDeque::new();
        for i in 0..21 {
            h.push_back(if i % 2 == 0 { O } else { C });
        }
        // Every transition changes: 20 weights averaging 1.0 -> 100%.
        assert!((percent_state_change(&h) - 100.0).abs() < 1e-9);
        let steady: VecDeque<CheckState> = std::iter::repeat_n(O, 21).collect();
        assert_eq!(percent_state_change(&steady), 0.0);
    }

    #[test]
    fn ack_needs_a_problem() {
        let mut t = Tracker::new(1);
        t.result(O, 1);
        assert!(t
            .acknowledge(super::Ack {
                who: "a".into(),
                comment: String::new(),
                sticky: false,
                time_ms: 1
            })
            .is_err());
    }
}

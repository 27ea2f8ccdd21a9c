//! Who may do what: the one permissions matrix of Takt. The station's `decide` checks it before a
//! command becomes an event, central checks it again at ingest, and the screens offer only what it
//! allows. Data, not scattered `if`s: a plant that wants another split changes [`MATRIX`].

use serde::{Deserialize, Serialize};

/// A role an operator record can carry (master data spells them in words: `line lead`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Operator,
    Inspector,
    LineLead,
    Maintenance,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Operator,
        Role::Inspector,
        Role::LineLead,
        Role::Maintenance,
        Role::Admin,
    ];

    /// How master data and screens spell the role.
    pub fn words(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Inspector => "inspector",
            Role::LineLead => "line lead",
            Role::Maintenance => "maintenance",
            Role::Admin => "admin",
        }
    }

    /// Reads a role as master data or an import spells it: `line lead`, `line_lead`, `Line-Lead`
    /// and `lead` are one role. None for a word that is no role.
    pub fn parse(text: &str) -> Option<Role> {
        let key: String = text
            .trim()
            .to_ascii_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        match key.as_str() {
            "operator" => Some(Role::Operator),
            "inspector" | "quality" => Some(Role::Inspector),
            "linelead" | "lead" | "supervisor" => Some(Role::LineLead),
            "maintenance" | "technician" => Some(Role::Maintenance),
            "admin" | "administrator" => Some(Role::Admin),
            _ => None,
        }
    }

    /// The roles a record names; words that are no role are left out (import refuses them).
    pub fn parse_all<'a>(words: impl IntoIterator<Item = &'a String>) -> Vec<Role> {
        let mut roles: Vec<Role> = words.into_iter().filter_map(|w| Role::parse(w)).collect();
        roles.sort();
        roles.dedup();
        roles
    }
}

/// Something a person does at a station that the matrix rules on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Choose the work order to run next.
    SelectWorkOrder,
    /// Start or resume the active work order (the machine gets its permit).
    RunWorkOrder,
    /// Pause the running order: anyone may stop a machine.
    PauseWorkOrder,
    CompleteWorkOrder,
    /// Scan or key material into the running order.
    FeedMaterial,
    /// Give an unplanned stop its reason.
    CodeDowntime,
    /// Declare planned downtime (break, changeover, planned maintenance).
    DeclarePlannedDowntime,
    /// Call for help, material, quality or maintenance, or answer a call.
    Andon,
    /// Reset a stopped machine.
    ResetMachine,
    /// Put a lot on hold: anyone who handles material may stop a suspect lot.
    HoldLot,
    /// Lift a hold: quality's decision, signed.
    ReleaseHold,
    /// Correct a recorded consumption, count or genealogy link, signed.
    Correct,
    /// Record an inspection: findings, defects and the verdict the plan gives.
    Inspect,
    /// Decide what becomes of a held lot (accept, rework, scrap, use as is, return), signed.
    Dispose,
    /// Record that a lot sent back for rework has been reworked.
    Rework,
    /// Open a nonconformance report.
    OpenNcr,
    /// Close a nonconformance report, signed.
    CloseNcr,
    /// Resume a plan's discontinued inspection once the corrective action is accepted, signed.
    ResumeInspection,
}

impl Action {
    pub const ALL: [Action; 18] = [
        Action::SelectWorkOrder,
        Action::RunWorkOrder,
        Action::PauseWorkOrder,
        Action::CompleteWorkOrder,
        Action::FeedMaterial,
        Action::CodeDowntime,
        Action::DeclarePlannedDowntime,
        Action::Andon,
        Action::ResetMachine,
        Action::HoldLot,
        Action::ReleaseHold,
        Action::Correct,
        Action::Inspect,
        Action::Dispose,
        Action::Rework,
        Action::OpenNcr,
        Action::CloseNcr,
        Action::ResumeInspection,
    ];

    /// Signature-grade: recorded only with the PIN entered again and a meaning (and a second
    /// person where the station's configuration asks for one).
    pub fn needs_signature(self) -> bool {
        matches!(
            self,
            Action::ReleaseHold
                | Action::Correct
                | Action::Dispose
                | Action::CloseNcr
                | Action::ResumeInspection
        )
    }

    /// The name a station's configuration uses for it (`second_signer_for`).
    pub fn name(self) -> &'static str {
        match self {
            Action::SelectWorkOrder => "select_work_order",
            Action::RunWorkOrder => "run_work_order",
            Action::PauseWorkOrder => "pause_work_order",
            Action::CompleteWorkOrder => "complete_work_order",
            Action::FeedMaterial => "feed_material",
            Action::CodeDowntime => "code_downtime",
            Action::DeclarePlannedDowntime => "declare_planned_downtime",
            Action::Andon => "andon",
            Action::ResetMachine => "reset_machine",
            Action::HoldLot => "hold_lot",
            Action::ReleaseHold => "release_hold",
            Action::Correct => "correct",
            Action::Inspect => "inspect",
            Action::Dispose => "dispose",
            Action::Rework => "rework",
            Action::OpenNcr => "open_ncr",
            Action::CloseNcr => "close_ncr",
            Action::ResumeInspection => "resume_inspection",
        }
    }

    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name.trim())
    }

    /// What the action is, to finish "may not …".
    pub fn words(self) -> &'static str {
        match self {
            Action::SelectWorkOrder => "choose work orders",
            Action::RunWorkOrder => "start or resume work orders",
            Action::PauseWorkOrder => "pause work orders",
            Action::CompleteWorkOrder => "complete work orders",
            Action::FeedMaterial => "feed material",
            Action::CodeDowntime => "code downtime",
            Action::DeclarePlannedDowntime => "declare planned downtime",
            Action::Andon => "call or answer andon",
            Action::ResetMachine => "reset the machine",
            Action::HoldLot => "put lots on hold",
            Action::ReleaseHold => "release held lots",
            Action::Correct => "correct recorded facts",
            Action::Inspect => "record inspections",
            Action::Dispose => "disposition held lots",
            Action::Rework => "record rework",
            Action::OpenNcr => "open nonconformance reports",
            Action::CloseNcr => "close nonconformance reports",
            Action::ResumeInspection => "resume discontinued inspection",
        }
    }
}

use Action as A;
use Role as R;

/// Which roles may do each action. An admin may do everything a station offers; maintenance may
/// stop, code and restart the machine but not run production; inspectors stop and call.
pub const MATRIX: &[(Action, &[Role])] = &[
    (A::SelectWorkOrder, &[R::Operator, R::LineLead, R::Admin]),
    (A::RunWorkOrder, &[R::Operator, R::LineLead, R::Admin]),
    (A::PauseWorkOrder, &Role::ALL),
    (A::CompleteWorkOrder, &[R::Operator, R::LineLead, R::Admin]),
    (A::FeedMaterial, &[R::Operator, R::LineLead, R::Admin]),
    (
        A::CodeDowntime,
        &[R::Operator, R::LineLead, R::Maintenance, R::Admin],
    ),
    (
        A::DeclarePlannedDowntime,
        &[R::Operator, R::LineLead, R::Maintenance, R::Admin],
    ),
    (A::Andon, &Role::ALL),
    (
        A::ResetMachine,
        &[R::Operator, R::LineLead, R::Maintenance, R::Admin],
    ),
    (
        A::HoldLot,
        &[R::Operator, R::Inspector, R::LineLead, R::Admin],
    ),
    (A::ReleaseHold, &[R::Inspector, R::Admin]),
    (A::Correct, &[R::Inspector, R::LineLead, R::Admin]),
    (A::Inspect, &[R::Inspector, R::LineLead, R::Admin]),
    (A::Dispose, &[R::Inspector, R::LineLead, R::Admin]),
    (A::Rework, &[R::Operator, R::LineLead, R::Admin]),
    (A::OpenNcr, &[R::Inspector, R::LineLead, R::Admin]),
    (A::CloseNcr, &[R::Inspector, R::LineLead, R::Admin]),
    (A::ResumeInspection, &[R::Inspector, R::Admin]),
];

/// The action a recorded fact stands for, when a person did it: what central checks again at
/// ingest. None for facts that need no permission (logins, evidence of refusals, the machine's
/// own counts and states, what follows from another action). Exhaustive on purpose: a new kind of
/// event must say where it stands.
pub fn required_action(kind: &super::event::EventKind) -> Option<Action> {
    use super::event::EventKind as K;
    match kind {
        K::WorkOrderSelected { .. } => Some(Action::SelectWorkOrder),
        K::WorkOrderStarted { .. } | K::WorkOrderResumed { .. } => Some(Action::RunWorkOrder),
        K::WorkOrderPaused { .. } => Some(Action::PauseWorkOrder),
        K::WorkOrderCompleted { .. } => Some(Action::CompleteWorkOrder),
        K::LotLoaded { .. } | K::LotConsumed { .. } | K::LotRegistered { .. } => {
            Some(Action::FeedMaterial)
        }
        K::DowntimeCoded { .. } => Some(Action::CodeDowntime),
        K::PlannedDowntimeDeclared { .. } => Some(Action::DeclarePlannedDowntime),
        K::AndonCalled { .. } | K::AndonAnswered { .. } => Some(Action::Andon),
        K::MachineCommandSent { .. } => Some(Action::ResetMachine),
        K::LotHeld { .. } => Some(Action::HoldLot),
        K::LotReleased { .. } => Some(Action::ReleaseHold),
        K::Corrected { .. } => Some(Action::Correct),
        K::InspectionRecorded { .. } | K::QualityAlert { .. } => Some(Action::Inspect),
        K::LotDispositioned { .. } => Some(Action::Dispose),
        K::ReworkDone { .. } => Some(Action::Rework),
        K::NcrOpened { .. } => Some(Action::OpenNcr),
        K::NcrClosed { .. } => Some(Action::CloseNcr),
        K::InspectionResumed { .. } => Some(Action::ResumeInspection),
        K::OperatorLoggedIn { .. }
        | K::OperatorLoggedOut { .. }
        | K::LoginFailed { .. }
        | K::BadgeLocked { .. }
        | K::ScanRefused { .. }
        | K::OutputCreated { .. }
        | K::UnitsProduced { .. }
        | K::PlcCounterBaseline { .. }
        | K::PlcCommsLost { .. }
        | K::PlcCommsRestored { .. }
        | K::PlcStale { .. }
        | K::PlcFresh { .. }
        | K::MachineStateChanged { .. }
        | K::DowntimeStarted { .. }
        | K::PartRecorded { .. }
        // A signature's signer is checked like any actor (known, not revoked); what they may
        // sign is the record's action, checked on the record.
        | K::Signed { .. } => None,
    }
}

/// The roles that may do `action`.
pub fn allowed(action: Action) -> &'static [Role] {
    MATRIX
        .iter()
        .find(|(a, _)| *a == action)
        .map_or(&[], |(_, roles)| roles)
}

/// Whether someone holding `roles` may do `action`.
pub fn permits(roles: &[Role], action: Action) -> bool {
    allowed(action).iter().any(|role| roles.contains(role))
}

/// "operator, line lead or admin".
pub fn roles_in_words(roles: &[Role]) -> String {
    let words: Vec<&str> = roles.iter().map(|r| r.words()).collect();
    match words.as_slice() {
        [] => "nobody".into(),
        [one] => (*one).into(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_row_and_no_action_two() {
        for action in Action::ALL {
            let rows = MATRIX.iter().filter(|(a, _)| *a == action).count();
            assert_eq!(rows, 1, "{action:?}");
            assert!(!allowed(action).is_empty(), "{action:?}");
        }
        assert_eq!(MATRIX.len(), Action::ALL.len());
    }

    /// The whole matrix, spelled out: a change to it must change this table too.
    #[test]
    fn the_matrix_reads_as_agreed() {
        let expected: &[(Action, [bool; 5])] = &[
            //                               oper   insp   lead   maint  admin
            (A::SelectWorkOrder, [true, false, true, false, true]),
            (A::RunWorkOrder, [true, false, true, false, true]),
            (A::PauseWorkOrder, [true, true, true, true, true]),
            (A::CompleteWorkOrder, [true, false, true, false, true]),
            (A::FeedMaterial, [true, false, true, false, true]),
            (A::CodeDowntime, [true, false, true, true, true]),
            (A::DeclarePlannedDowntime, [true, false, true, true, true]),
            (A::Andon, [true, true, true, true, true]),
            (A::ResetMachine, [true, false, true, true, true]),
        ];
        for (action, row) in expected {
            for (role, may) in Role::ALL.iter().zip(row) {
                assert_eq!(permits(&[*role], *action), *may, "{role:?} {action:?}");
            }
        }
        assert!(!permits(&[], A::PauseWorkOrder), "no role, no action");
    }

    #[test]
    fn roles_are_read_as_people_write_them() {
        for (text, role) in [
            ("operator", Some(R::Operator)),
            ("Line Lead", Some(R::LineLead)),
            ("line_lead", Some(R::LineLead)),
            ("lead", Some(R::LineLead)),
            (" Inspector ", Some(R::Inspector)),
            ("maintenance", Some(R::Maintenance)),
            ("ADMIN", Some(R::Admin)),
            ("janitor", None),
        ] {
            assert_eq!(Role::parse(text), role, "{text}");
        }
        let all: Vec<String> = vec!["lead".into(), "operator".into(), "line lead".into()];
        assert_eq!(Role::parse_all(&all), vec![R::Operator, R::LineLead]);
        assert_eq!(
            roles_in_words(&[R::Operator, R::LineLead, R::Admin]),
            "operator, line lead or admin"
        );
    }
}

//! Mock legal cadastre (real-estate rights registry) over REST/JSON: objects with their technical
//! characteristics, rights and encumbrances, and pledge registration that answers "accepted" at
//! once and decides after a delay by rules on the data, as a registrar would (seed 000 §4 C, D):
//!
//! - no complete e-check for the contract number → refused;
//! - a pledgor who is not an owner, or an owner who does not pledge → refused;
//! - an arrest on the object → suspended until it is lifted;
//! - a pledge already registered for another pledgee → preliminary refusal with a hearing, and an
//!   objection taken for 2 working days; an objection in time → registered after the hearing,
//!   none → refused when the window closes;
//! - otherwise → registered, and the pledge appears among the object's encumbrances.
//!
//! Filings are idempotent by the gateway's message id. The registrar's clock can be set off (a
//! decision dated in the past) so tests can reach a closed objection window.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use kopir_core::model::cadastre::{
    Decision, Encumbrance, FilingStatus, PledgeFiling, RealEstate, Right, Rights,
};
use kopir_core::model::Address;
use serde::Deserialize;
use serde_json::json;

use crate::payments::Ledger;
use crate::population::Population;
use crate::switch::Switch;
use crate::MockError;

/// The registration fee the mock registrar expects, in tiyn (the gateway's default is the same).
pub const DEFAULT_FEE_TIYN: i64 = 432_500;

/// `at` plus `days` working days (Monday to Friday).
pub fn add_working_days(at: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let mut t = at;
    let mut left = days;
    while left > 0 {
        t += Duration::days(1);
        if !matches!(t.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    t
}

/// How the registrar behaves.
#[derive(Debug, Clone)]
pub struct CadastreBehaviour {
    /// From filing to decision.
    pub decision_delay: StdDuration,
    /// From objection to the hearing's decision.
    pub hearing_delay: StdDuration,
    /// The registration fee due.
    pub fee_tiyn: i64,
}

impl Default for CadastreBehaviour {
    fn default() -> Self {
        Self {
            decision_delay: StdDuration::from_millis(1500),
            hearing_delay: StdDuration::from_millis(1500),
            fee_tiyn: DEFAULT_FEE_TIYN,
        }
    }
}

struct Filing {
    filing: PledgeFiling,
    status: FilingStatus,
    /// When it was received, on the registrar's clock.
    received_at: DateTime<Utc>,
    objected_at: Option<DateTime<Utc>>,
}

struct Registry {
    objects: BTreeMap<String, (RealEstate, Rights)>,
    filings: BTreeMap<String, Filing>,
    /// Filings received per contract number (distinct message ids).
    per_contract: BTreeMap<String, u32>,
    /// Filing POSTs received, repeats included.
    posts: u64,
}

/// The registrar's state.
pub struct CadastreState {
    registry: Mutex<Registry>,
    behaviour: CadastreBehaviour,
    ledger: Ledger,
    clock_offset_s: std::sync::atomic::AtomicI64,
}

/// A running mock legal cadastre.
pub struct MockCadastre {
    state: Arc<CadastreState>,
    server: Switch,
}

/// An object as a test or the demo registers it.
#[derive(Debug, Clone)]
pub struct NewObject {
    /// Cadastral number.
    pub cadastral_number: String,
    /// Owners (IIN or BIN); two or more hold it jointly.
    pub owners: Vec<String>,
    /// Encumbrances: (kind, holder, basis).
    pub encumbrances: Vec<(String, String, String)>,
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

impl CadastreState {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
            + Duration::seconds(
                self.clock_offset_s
                    .load(std::sync::atomic::Ordering::Relaxed),
            )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // Plain maps: a panic elsewhere cannot leave them half-written.
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn register_object(&self, o: NewObject, address: Address) {
        let now = self.now();
        let share = if o.owners.len() > 1 { "joint" } else { "1" };
        let rights = Rights {
            cadastral_number: o.cadastral_number.clone(),
            rights: o
                .owners
                .iter()
                .map(|h| Right {
                    kind: if o.owners.len() > 1 {
                        "joint_ownership".into()
                    } else {
                        "ownership".into()
                    },
                    holder: h.clone(),
                    share: share.into(),
                    registered_at: now - Duration::days(400),
                })
                .collect(),
            encumbrances: o
                .encumbrances
                .iter()
                .map(|(kind, holder, basis)| Encumbrance {
                    kind: kind.clone(),
                    holder: holder.clone(),
                    basis: basis.clone(),
                    registered_at: now - Duration::days(30),
                })
                .collect(),
        };
        let n = o
            .cadastral_number
            .bytes()
            .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
        let object = RealEstate {
            cadastral_number: o.cadastral_number.clone(),
            kind: "apartment".into(),
            address,
            total_area_m2: format!("{}.{}", 38 + n % 70, n % 10),
            living_area_m2: format!("{}.{}", 20 + n % 40, n % 7),
            rooms: i32::try_from(1 + n % 4).unwrap_or(1),
            floor: i32::try_from(1 + n % 9).unwrap_or(1),
            floors: 9,
            year_built: i32::try_from(1975 + n % 48).unwrap_or(2000),
            wall_material: if n % 2 == 0 { "panel" } else { "brick" }.into(),
        };
        self.lock()
            .objects
            .insert(o.cadastral_number, (object, rights));
    }

    /// Brings a filing's status up to the registrar's clock: decides, holds the hearing, closes
    /// the objection window.
    fn advance(&self, reg: &mut Registry, message_id: &str) {
        let now = self.now();
        let Some(f) = reg.filings.get(message_id) else {
            return;
        };
        let decision_due =
            f.received_at + Duration::from_std(self.behaviour.decision_delay).unwrap_or_default();
        let next: Option<(Decision, Vec<String>, DateTime<Utc>)> = match f.status.decision {
            Decision::Accepted if now >= decision_due => Some(self.decide(reg, message_id)),
            Decision::Objection => f.objected_at.and_then(|at| {
                let heard = at + Duration::from_std(self.behaviour.hearing_delay).unwrap_or_default();
                (now >= heard).then(|| {
                    (
                        Decision::Registered,
                        vec!["The objection was upheld at the hearing; the pledge is entered in the registration sheet.".into()],
                        heard,
                    )
                })
            }),
            Decision::PreliminaryRefusal => f.status.objection_deadline.and_then(|deadline| {
                (now > deadline).then(|| {
                    let mut grounds = f.status.grounds.clone();
                    grounds.push("No objection was filed within 2 working days of the preliminary refusal (MoJ Order No. 27 Rules, para 4, as amended by Order No. 590).".into());
                    (Decision::Refused, grounds, deadline)
                })
            }),
            _ => None,
        };
        let Some((decision, grounds, decided_at)) = next else {
            return;
        };
        if decision == Decision::Registered {
            let f = &reg.filings[message_id];
            let (number, bank, contract) = (
                f.filing.cadastral_number.clone(),
                f.filing.pledgee_bin.clone(),
                f.filing.contract_number.clone(),
            );
            if let Some((_, rights)) = reg.objects.get_mut(&number) {
                rights.encumbrances.push(Encumbrance {
                    kind: "pledge".into(),
                    holder: bank,
                    basis: format!("pledge contract {contract}"),
                    registered_at: decided_at,
                });
            }
        }
        if let Some(f) = reg.filings.get_mut(message_id) {
            f.status.decision = decision;
            f.status.grounds = grounds;
            f.status.decided_at = decided_at;
            if decision == Decision::PreliminaryRefusal {
                f.status.hearing_at = Some(add_working_days(decided_at, 1));
                f.status.objection_deadline = Some(add_working_days(decided_at, 2));
            }
        }
    }

    fn decide(&self, reg: &Registry, message_id: &str) -> (Decision, Vec<String>, DateTime<Utc>) {
        let f = &reg.filings[message_id];
        let at =
            f.received_at + Duration::from_std(self.behaviour.decision_delay).unwrap_or_default();
        let p = &f.filing;
        let paid: i64 = self
            .ledger
            .for_contract(&p.contract_number)
            .iter()
            .map(|c| c.amount_tiyn)
            .sum();
        if paid < self.behaviour.fee_tiyn {
            let why = if paid == 0 {
                "no payment e-check quotes the contract's unique number".to_string()
            } else {
                format!(
                    "the e-checks quoting the contract's unique number cover {} of the {} tiyn fee",
                    paid, self.behaviour.fee_tiyn
                )
            };
            return (
                Decision::Refused,
                vec![format!("Registration fee not paid in full: {why} (MoJ Order No. 590, service 6: the registrar checks the e-check exists, the payment is complete and the unique numbers match).")],
                at,
            );
        }
        let Some((_, rights)) = reg.objects.get(&p.cadastral_number) else {
            return (
                Decision::Refused,
                vec!["The legal cadastre holds no object with this cadastral number.".into()],
                at,
            );
        };
        let owners: Vec<&str> = rights.owners().collect();
        if p.pledgors.iter().any(|x| !owners.contains(&x.as_str()))
            || owners.iter().any(|o| !p.pledgors.iter().any(|x| x == o))
        {
            return (
                Decision::Refused,
                vec!["The pledgors are not the registered right holders of the object: every owner, and only an owner, pledges it (Civil Code art. 307: the pledgor is the owner of the property).".into()],
                at,
            );
        }
        if let Some(arrest) = rights.encumbrances.iter().find(|e| e.kind == "arrest") {
            return (
                Decision::Suspended,
                vec![format!("An arrest is registered on the object ({}): registration is suspended until it is lifted.", arrest.basis)],
                at,
            );
        }
        if let Some(prior) = rights
            .encumbrances
            .iter()
            .find(|e| e.kind == "pledge" && e.holder != p.pledgee_bin)
        {
            return (
                Decision::PreliminaryRefusal,
                vec![format!("The object is already pledged ({}); a subsequent pledge needs the prior pledgee's consent, which the filing does not contain.", prior.basis)],
                at,
            );
        }
        (
            Decision::Registered,
            vec!["Pledge entered in the registration sheet of the object.".into()],
            at,
        )
    }

    fn file(&self, filing: PledgeFiling) -> FilingStatus {
        let now = self.now();
        let mut reg = self.lock();
        reg.posts += 1;
        let id = filing.message_id.clone();
        if !reg.filings.contains_key(&id) {
            *reg.per_contract
                .entry(filing.contract_number.clone())
                .or_default() += 1;
            reg.filings.insert(
                id.clone(),
                Filing {
                    status: FilingStatus {
                        message_id: id.clone(),
                        decision: Decision::Accepted,
                        grounds: Vec::new(),
                        hearing_at: None,
                        objection_deadline: None,
                        decided_at: now,
                    },
                    filing,
                    received_at: now,
                    objected_at: None,
                },
            );
        }
        self.advance(&mut reg, &id);
        reg.filings[&id].status.clone()
    }

    fn status(&self, message_id: &str) -> Option<FilingStatus> {
        let mut reg = self.lock();
        self.advance(&mut reg, message_id);
        reg.filings.get(message_id).map(|f| f.status.clone())
    }

    fn object(&self, message_id: &str) -> Result<FilingStatus, (StatusCode, &'static str, String)> {
        let now = self.now();
        let mut reg = self.lock();
        self.advance(&mut reg, message_id);
        let Some(f) = reg.filings.get_mut(message_id) else {
            return Err((
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "no filing with this message id".into(),
            ));
        };
        match f.status.decision {
            // A repeated objection (the gateway retrying) is the same objection.
            Decision::Objection => Ok(f.status.clone()),
            Decision::PreliminaryRefusal => {
                f.status.decision = Decision::Objection;
                f.status.decided_at = now;
                f.objected_at = Some(now);
                Ok(f.status.clone())
            }
            Decision::Refused if f.status.objection_deadline.is_some_and(|d| now > d) => Err((
                StatusCode::CONFLICT,
                "OBJECTION_LATE",
                "the objection window closed: the refusal is final".into(),
            )),
            _ => Err((
                StatusCode::CONFLICT,
                "NO_PRELIMINARY_REFUSAL",
                "an objection is taken only against a preliminary refusal".into(),
            )),
        }
    }
}

/// An object's part as JSON, or the registry's 404.
fn object_part<T: serde::Serialize>(
    state: &CadastreState,
    number: &str,
    part: impl FnOnce(&(RealEstate, Rights)) -> &T,
) -> Response {
    match state.lock().objects.get(number) {
        Some(o) => Json(part(o)).into_response(),
        None => refusal(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no object with this cadastral number",
        ),
    }
}

async fn object(State(state): State<Arc<CadastreState>>, Path(number): Path<String>) -> Response {
    object_part(&state, &number, |(o, _)| o)
}

async fn rights(State(state): State<Arc<CadastreState>>, Path(number): Path<String>) -> Response {
    object_part(&state, &number, |(_, r)| r)
}

async fn file(
    State(state): State<Arc<CadastreState>>,
    Json(filing): Json<PledgeFiling>,
) -> Response {
    if filing.message_id.is_empty() {
        return refusal(
            StatusCode::BAD_REQUEST,
            "BAD_FILING",
            "message_id is required",
        );
    }
    (StatusCode::ACCEPTED, Json(state.file(filing))).into_response()
}

#[derive(Deserialize)]
struct ByMessage {
    message_id: String,
}

async fn status(State(state): State<Arc<CadastreState>>, Query(q): Query<ByMessage>) -> Response {
    match state.status(&q.message_id) {
        Some(s) => Json(s).into_response(),
        None => refusal(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no filing with this message id",
        ),
    }
}

#[derive(Deserialize)]
struct Objection {
    message_id: String,
    #[allow(dead_code)]
    text: String,
}

async fn objection(State(state): State<Arc<CadastreState>>, Json(o): Json<Objection>) -> Response {
    match state.object(&o.message_id) {
        Ok(s) => Json(s).into_response(),
        Err((status, code, message)) => refusal(status, code, &message),
    }
}

/// The demo's objects: one apartment for each of the population's first persons; the 8th is
/// under arrest, the 9th already pledged to another bank, the 10th held jointly with the 11th.
pub fn demo_objects(population: &Population) -> Vec<(NewObject, Address)> {
    population
        .person_order
        .iter()
        .take(100)
        .enumerate()
        .map(|(i, iin)| {
            let mut o = NewObject {
                cadastral_number: format!("21-320-{:03}-{:03}", i / 1000, i % 1000 + 100),
                owners: vec![iin.clone()],
                encumbrances: Vec::new(),
            };
            match i {
                7 => o.encumbrances.push((
                    "arrest".into(),
                    "Astana bailiffs' office".into(),
                    "bailiff's order 2026-AR-1187".into(),
                )),
                8 => o.encumbrances.push((
                    "pledge".into(),
                    "971240001315".into(),
                    "pledge contract KZ-PL-2024-0042".into(),
                )),
                9 => {
                    if let Some(spouse) = population.person_order.get(10) {
                        o.owners.push(spouse.clone());
                    }
                }
                _ => {}
            }
            let address = population
                .persons
                .get(iin)
                .and_then(|p| p.registration.as_ref())
                .map(|r| r.address.clone())
                .unwrap_or_default();
            (o, address)
        })
        .collect()
}

impl MockCadastre {
    /// Serves on `addr` with the demo objects of `population`, deciding by `behaviour`, reading
    /// the payment gateway's e-checks from `ledger`.
    pub async fn start(
        addr: SocketAddr,
        population: &Population,
        ledger: Ledger,
        behaviour: CadastreBehaviour,
        sender: (&str, &str),
    ) -> Result<Self, MockError> {
        let state = Arc::new(CadastreState {
            registry: Mutex::new(Registry {
                objects: BTreeMap::new(),
                filings: BTreeMap::new(),
                per_contract: BTreeMap::new(),
                posts: 0,
            }),
            behaviour,
            ledger,
            clock_offset_s: std::sync::atomic::AtomicI64::new(0),
        });
        for (o, address) in demo_objects(population) {
            state.register_object(o, address);
        }
        let app = Router::new()
            .route("/api/v1/objects/{number}", get(object))
            .route("/api/v1/objects/{number}/rights", get(rights))
            .route("/api/v1/pledges", post(file))
            .route("/api/v1/pledges/status", get(status))
            .route("/api/v1/pledges/objections", post(objection))
            .route_layer(axum::middleware::from_fn_with_state(
                crate::sender::credentials(sender),
                crate::sender::require,
            ))
            .route("/health", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(crate::trace::serve))
            .with_state(state.clone());
        let server = Switch::start(addr, app).await?;
        Ok(Self { state, server })
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Registers an object, as the registrar's office would.
    pub fn register_object(&self, o: NewObject) {
        self.state.register_object(o, Address::default());
    }

    /// Rights and encumbrances of an object, as the registry holds them now.
    pub fn rights(&self, number: &str) -> Option<Rights> {
        self.state
            .lock()
            .objects
            .get(number)
            .map(|(_, r)| r.clone())
    }

    /// Distinct filings received for a contract number (1 when it reached the registry once).
    pub fn filings_of(&self, contract_number: &str) -> u32 {
        self.state
            .lock()
            .per_contract
            .get(contract_number)
            .copied()
            .unwrap_or(0)
    }

    /// Every contract number filed, with its count of distinct filings.
    pub fn filings(&self) -> BTreeMap<String, u32> {
        self.state.lock().per_contract.clone()
    }

    /// Filing POSTs received, repeats included.
    pub fn posts(&self) -> u64 {
        self.state.lock().posts
    }

    /// Sets the registrar's clock `offset` from real time (negative: it dates decisions earlier).
    pub fn set_clock_offset(&self, offset: Duration) {
        self.state
            .clock_offset_s
            .store(offset.num_seconds(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Takes the registry down (port closed) or brings it back.
    pub async fn set_down(&self, down: bool) -> Result<(), MockError> {
        if down {
            self.server.stop().await;
            Ok(())
        } else {
            self.server.restart().await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn working_days_skip_the_weekend() {
        // Thursday 2026-11-26 + 2 working days = Monday 2026-11-30.
        let thu = Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap();
        assert_eq!(add_working_days(thu, 2).weekday(), Weekday::Mon);
        let mon = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        assert_eq!(add_working_days(mon, 2).weekday(), Weekday::Wed);
    }
}

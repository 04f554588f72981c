//! The chat that every chapter of the book serves (chapter 1, "The chat").
//!
//! It is written once, here, so that each chapter adds only its way of
//! delivering new messages, and the reader compares like with like.
//!
//! - [`message`]: what a message is, and the rules a new one follows.
//! - [`store`]: the newest messages in memory, each encoded once, and
//!   news of new ones.
//! - [`cursor`]: where a client resumes, the run that issued it, and
//!   the reset that answers a cursor this run never issued.
//! - [`routes`]: `POST /messages` and `GET /messages?after=ID`.
//! - [`reply`]: JSON answers, and the JSON error every failure uses.
//! - [`errors`]: turns warp's rejections (404, 405, …) into JSON errors.
//! - [`limit`]: the bound on open streams, and the 503 past it.
//! - [`assets`]: the page parts every chapter's page shares.
//! - [`server`]: what every chapter binary does around its routes: the
//!   `listening on` line, the accept loop, and the stop its streams share.
//! - [`flags`]: parsers for the flags every chapter binary shares.

pub mod assets;
pub mod cursor;
pub mod errors;
pub mod flags;
pub mod limit;
pub mod message;
pub mod reply;
pub mod routes;
pub mod server;
pub mod store;

pub use cursor::{Cursor, Reset, Run};
pub use message::{Message, NewMessage};
pub use store::{Log, Page, Store, Stored, Unavailable};

//! Client protocols. Each surface converts its protocol to the neutral form and back.

pub mod models;
pub mod openai_chat;

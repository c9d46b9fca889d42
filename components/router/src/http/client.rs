//! Who is asking, and what of their request the router needs besides the body.

/// The caller of one request, after authentication.
#[derive(Clone, Copy)]
pub struct Client<'a> {
    /// The gateway key's name (`anonymous` when the gateway is open): scopes stored state.
    pub caller: &'a str,
    pub headers: &'a [(String, String)],
    /// CORS headers for the response.
    pub cors: &'a [(String, String)],
    /// Only this provider and key may serve the request (a follow-up to a response it made).
    pub pin: Option<(&'a str, usize)>,
}

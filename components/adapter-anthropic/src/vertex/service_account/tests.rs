use super::*;
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;

/// TEST ONLY: generated for these tests with `openssl genpkey -algorithm RSA -pkeyopt
/// rsa_keygen_bits:2048`; it belongs to no account.
const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDBSu6Cqfam8Jh6\n\
LPf5HVrk4sucPyEUyaL/vy0zpOItJkoRQePSoxTrmGDHvQ+2SOF1IDwQhFHZptfI\n\
XpJnv6RsCj5PWsdK4jjnQQZP2ajji0+l15vYuiSXPPS5EMmmT/sb4SrXHRv8yT3k\n\
CUcE8dZK2gwnB8XORSE+REpVrA4a2nnY7vCmp+TwMUURAsxjQoDyBc7zNJME/YGY\n\
uJlGmSrKduDlQAZPDIRmgFk5D5VovN2fI3j6B46L4KiMKYahJvfqNX1UwlwVv/iy\n\
h+qns37S5f+sjDhlW7+pS3pB7bxC+Sbc4La1eSIajpBxGzsr1a6NsyV4Yb3TWCIF\n\
Vbn2CmHnAgMBAAECggEAEuTGJ5OBfpPp85dNrdYGunTIvj8Vdri27BS90Fx/lzY0\n\
6zbrk/1I4DaGzz9Vt9Wr5A0AkgS9E29RjE5iNS3wXncp3Avdix5NvZ0HhuqZrZRC\n\
ds16eFbJmNbmfOh9LXqH6xO5YkmAINdy60VU4dDZx3tE0NPbq+vp8fIu6ezlfA5P\n\
WJsQ4HGnEFuZKTImk5DQEgK97SPpsgN74leNZYBpchNEXt4h+SbwCDWR4gW8rV3M\n\
367uyf2ukHUtS3+4cOkw69nJLjBchYPiorlSdv7Jyj8cR/F62UQeIINKczBzroqZ\n\
q08i8dSFGiugfoENIpwRZJsT+RpZaMHeiNMjTLVUMQKBgQDwVhESHZhbRaLyEew6\n\
g/KwwhM95oc32I8uf34LB/eF18xWCnzAbs9ifmlIjS9co5RVTwIpZ6UhGkd8XrI1\n\
4SNktZfPTTXJh+RFAsUqYCEQLnVzih2iw5o3nAIDXv0wDmwTUUS0EizIZORcaAWj\n\
z/vSvFESUIdy6tloUoH4TJEGawKBgQDN4/WMO26rExJMuwT+0k7y14SXm6tnkJwg\n\
MXfy1ATfl+w5FfeXG78fiv5I4ACQPncrTQVRc/5/vbKEyZldrDUOKygRnfyE5FIl\n\
E23SusYcwfnWbDZdkxdQt/NERlSUPO6TlsRISz4Brz3g1AhCF6B47HV5NndTLRl9\n\
Fm1JnuYZdQKBgEM2Tp/aVvlviBpamM3kiMKWA/uTtM0Razl9vionmDl+GE8Xr7vB\n\
QY4x/A+mLFCkDp+s8NXTfoK7brKBaSVYSSWpA0OePCSYNGZ4V9t59sUnuQEO5yrV\n\
uRNENevrbLM71U2xtJ0HWC7SyGpvTOR7DdnpgGK20qp4s0RRjrd58jTxAoGAEpRR\n\
ojfywqlT62ytBLnBuhRMuMmpbA0WqakNI/KSBgNVo8khsJcmZhhK3hSouFuKsXOf\n\
2TvYaXqa03TFzDgwCXlHgl95XBymdQYN0QhdvFaczwaw2Tzey7/tyel21HGzLcpb\n\
KBLyI4DG2rUHkb9EEeV0rF2H4w+czzbo4c3fAckCgYEAntZtIm85C3Jf7XEgQTEn\n\
yOiijT++TpCBRq06B2elZgj9pP2gasKdoLPvJ++o9HY+gVpxsw5f7Xj6lM0vlwLt\n\
pE30Ytfhlfh0pu46WqDlx0ShGFR1P1+kyAOCE5SToxm26rIH4XmrW0ZejpPIxKK5\n\
NRag3iAf1Bno1Mv/TNu9KwY=\n\
-----END PRIVATE KEY-----\n";
const TEST_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----\n\
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwUrugqn2pvCYeiz3+R1a\n\
5OLLnD8hFMmi/78tM6TiLSZKEUHj0qMU65hgx70PtkjhdSA8EIRR2abXyF6SZ7+k\n\
bAo+T1rHSuI450EGT9mo44tPpdeb2Loklzz0uRDJpk/7G+Eq1x0b/Mk95AlHBPHW\n\
StoMJwfFzkUhPkRKVawOGtp52O7wpqfk8DFFEQLMY0KA8gXO8zSTBP2BmLiZRpkq\n\
ynbg5UAGTwyEZoBZOQ+VaLzdnyN4+geOi+CojCmGoSb36jV9VMJcFb/4sofqp7N+\n\
0uX/rIw4ZVu/qUt6Qe28Qvkm3OC2tXkiGo6QcRs7K9WujbMleGG901giBVW59gph\n\
5wIDAQAB\n\
-----END PUBLIC KEY-----\n";

const NOW: u64 = 1_767_225_600;

fn key_file() -> serde_json::Value {
    serde_json::json!({
        "type": "service_account",
        "project_id": "apex-test-project",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": TEST_KEY,
        "client_email": "apex-gateway@apex-test-project.iam.gserviceaccount.com",
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/apex-gateway%40apex-test-project.iam.gserviceaccount.com",
        "universe_domain": "googleapis.com"
    })
}

fn account() -> ServiceAccount {
    ServiceAccount::parse(&key_file().to_string()).unwrap()
}

fn decode(part: &str) -> serde_json::Value {
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(part).unwrap()).unwrap()
}

#[test]
fn parses_a_standard_key_file() {
    let sa = account();
    assert_eq!(
        sa.client_email,
        "apex-gateway@apex-test-project.iam.gserviceaccount.com"
    );
    assert_eq!(sa.token_uri, DEFAULT_TOKEN_URI);
    assert_eq!(sa.project_id.as_deref(), Some("apex-test-project"));
    assert_eq!(sa.private_key, TEST_KEY);

    let mut file = key_file();
    let object = file.as_object_mut().unwrap();
    for field in ["token_uri", "project_id", "type"] {
        object.remove(field);
    }
    let sa = ServiceAccount::parse(&file.to_string()).unwrap();
    assert_eq!(sa.token_uri, DEFAULT_TOKEN_URI);
    assert_eq!(sa.project_id, None);
}

#[test]
fn the_assertion_is_a_verifiable_rs256_jwt() {
    let sa = account();
    let jwt = assertion(&sa, NOW).unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert!(!jwt.contains(['=', '+', '/']), "base64url without padding");

    let header = Base64UrlUnpadded::decode_vec(parts[0]).unwrap();
    assert_eq!(header, br#"{"alg":"RS256","typ":"JWT"}"#);
    assert_eq!(
        decode(parts[1]),
        serde_json::json!({
            "iss": "apex-gateway@apex-test-project.iam.gserviceaccount.com",
            "scope": "https://www.googleapis.com/auth/cloud-platform",
            "aud": "https://oauth2.googleapis.com/token",
            "iat": NOW,
            "exp": NOW + 3600,
        })
    );

    let public = RsaPublicKey::from_public_key_pem(TEST_PUBLIC_KEY).unwrap();
    let verifier = VerifyingKey::<Sha256>::new(public);
    let signature_bytes = Base64UrlUnpadded::decode_vec(parts[2]).unwrap();
    assert_eq!(signature_bytes.len(), 256, "RSA 2048");
    let signature = Signature::try_from(signature_bytes.as_slice()).unwrap();
    let signed = format!("{}.{}", parts[0], parts[1]);
    verifier.verify(signed.as_bytes(), &signature).unwrap();

    // Another payload does not verify with that signature.
    let other = format!("{}.{}", parts[0], Base64UrlUnpadded::encode_string(b"{}"));
    assert!(verifier.verify(other.as_bytes(), &signature).is_err());
    // Deterministic: the same input signs the same.
    assert_eq!(assertion(&sa, NOW).unwrap(), jwt);
    assert_ne!(assertion(&sa, NOW + 1).unwrap(), jwt);
}

#[test]
fn the_token_request_is_form_encoded() {
    assert_eq!(
        token_request_body("aGVhZA.Y2xhaW1z.c2ln-_"),
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer\
         &assertion=aGVhZA.Y2xhaW1z.c2ln-_"
    );
    assert_eq!(form_encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
}

#[test]
fn token_responses() {
    let body = br#"{"access_token":"ya29.c.b0Aaekm1K","expires_in":3599,"token_type":"Bearer"}"#;
    assert_eq!(
        parse_token_response(200, body),
        Ok(("ya29.c.b0Aaekm1K".to_string(), 3599))
    );
    assert_eq!(
        parse_token_response(200, br#"{"access_token":"t"}"#),
        Ok(("t".to_string(), 3600))
    );

    // Failures never quote a success body (it may hold a token).
    for body in [
        &br#"{"access_token":"ya29.secret","expires_in":"soon"}"#[..],
        br#"{"id_token":"ya29.secret"}"#,
        b"ya29.secret",
    ] {
        let error = parse_token_response(200, body).unwrap_err();
        assert!(!error.contains("ya29.secret"), "{error}");
    }

    let error = parse_token_response(
        400,
        br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#,
    )
    .unwrap_err();
    assert!(error.contains("HTTP 400"), "{error}");
    assert!(
        error.contains("invalid_grant: Invalid JWT Signature."),
        "{error}"
    );
    let error = parse_token_response(
        401,
        br#"{"error":"invalid_client","error_description":"The OAuth client was not found."}"#,
    )
    .unwrap_err();
    assert!(
        error.ends_with("invalid_client: The OAuth client was not found."),
        "{error}"
    );
    let error = parse_token_response(503, b"<html>unavailable</html>").unwrap_err();
    assert_eq!(
        error,
        "the Google token endpoint refused the service account (HTTP 503)"
    );
}

/// Every base64 line of the test key's PEM body.
fn key_lines() -> Vec<&'static str> {
    TEST_KEY
        .lines()
        .filter(|line| !line.starts_with("-----") && line.len() > 16)
        .collect()
}

fn assert_no_key(text: &str) {
    for line in key_lines() {
        assert!(!text.contains(line), "leaks the key: {text}");
    }
    assert!(!text.contains("MII"), "leaks key material: {text}");
}

#[test]
fn errors_never_contain_the_key() {
    let with = |edit: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
        let mut file = key_file();
        edit(file.as_object_mut().unwrap());
        file.to_string()
    };
    // A key one character off, in the middle of its body.
    let lines = key_lines();
    let mut line = lines[5].to_string();
    let swapped = if line.as_bytes()[10] == b'A' {
        "B"
    } else {
        "A"
    };
    line.replace_range(10..11, swapped);
    let broken = TEST_KEY.replacen(lines[5], &line, 1);
    assert_ne!(broken, TEST_KEY);
    let pkcs1 = TEST_KEY.replace("PRIVATE KEY", "RSA PRIVATE KEY");
    let inputs = vec![
        with(&|f| {
            f.insert("private_key".into(), broken.clone().into());
        }),
        with(&|f| {
            f.insert("private_key".into(), pkcs1.clone().into());
        }),
        with(&|f| {
            f.insert("private_key".into(), TEST_KEY.replace('\n', "").into());
        }),
        with(&|f| {
            f.remove("client_email");
        }),
        with(&|f| {
            f.insert("client_email".into(), 5.into());
        }),
        with(&|f| {
            f.insert("type".into(), "authorized_user".into());
        }),
        with(&|f| {
            f.insert("type".into(), TEST_KEY.into());
        }),
        with(&|f| {
            f.insert("token_uri".into(), "http://oauth2.example.com/token".into());
        }),
        with(&|f| {
            f.insert("private_key".into(), serde_json::json!([TEST_KEY]));
        }),
        // Cut in the middle of the key: a syntax error.
        key_file().to_string()[..900].to_string(),
        // Unescaped newlines inside the key string.
        format!(r#"{{"type":"service_account","client_email":"a@b","private_key":"{TEST_KEY}"}}"#),
    ];
    for input in &inputs {
        let error = ServiceAccount::parse(input).unwrap_err();
        assert_no_key(&error);
    }
    let errors: Vec<String> = inputs
        .iter()
        .map(|input| ServiceAccount::parse(input).unwrap_err())
        .collect();
    assert!(errors[1].contains("PKCS#1"), "{}", errors[1]);
    assert!(errors[5].contains("`authorized_user`"), "{}", errors[5]);
    assert!(errors[7].contains("https"), "{}", errors[7]);

    // A key that went bad after parsing fails to sign, quietly.
    let mut sa = account();
    sa.private_key = broken;
    assert_no_key(&assertion(&sa, NOW).unwrap_err());
    assert_no_key(&format!("{:?}", account()));
}

#[test]
fn the_exchange_is_a_signed_form_post_and_its_reply_a_token() {
    let request = exchange_request(&key_file().to_string(), NOW).unwrap();
    assert_eq!(request.method, "POST");
    assert_eq!(request.url, DEFAULT_TOKEN_URI);
    assert_eq!(
        request.headers,
        vec![(
            "content-type".to_string(),
            TOKEN_REQUEST_CONTENT_TYPE.to_string()
        )]
    );
    let expected = token_request_body(&assertion(&account(), NOW).unwrap());
    assert_eq!(request.body, expected.into_bytes());

    let error = exchange_request(r#"{"type":"authorized_user"}"#, NOW).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Auth);
    assert!(
        error.message.starts_with("the service-account key: "),
        "{}",
        error.message
    );

    let token = exchange_response(200, br#"{"access_token":"ya29.t","expires_in":99}"#);
    assert_eq!(
        token,
        Ok(AccessToken {
            token: "ya29.t".to_string(),
            expires_in_secs: 99
        })
    );
    let error = exchange_response(400, br#"{"error":"invalid_grant"}"#).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Auth);
    assert!(error.message.contains("invalid_grant"), "{}", error.message);
}

#[test]
fn token_uris_must_be_secure() {
    for uri in [
        "https://oauth2.googleapis.com/token",
        "HTTPS://oauth2.googleapis.com/token",
        "http://localhost:8080/token",
        "http://127.0.0.1/token",
        "http://[::1]:9/t",
    ] {
        assert!(secure_uri(uri), "{uri}");
    }
    for uri in [
        "http://oauth2.googleapis.com/token",
        "http://localhost.example.com/token",
        "http://localhost@evil.example/token",
        "ftp://localhost/token",
        "oauth2.googleapis.com/token",
    ] {
        assert!(!secure_uri(uri), "{uri}");
    }
}

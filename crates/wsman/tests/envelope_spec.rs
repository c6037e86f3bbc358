//! The MS-WSMV 4.7.x / 4.9 / 4.10 / 4.11.3 example envelopes (pretty-printed, with whitespace inside text nodes)
//! parse in the right role.

use pssession_testkit::fixture;
use pssession_wsman::envelope::{Limits, ResponseBody, parse_request, parse_response};

fn envelopes(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<s:Envelope") {
        let Some(len) = rest[start..].find("</s:Envelope>") else { break };
        let end = start + len + "</s:Envelope>".len();
        out.push(&rest[start..end]);
        rest = &rest[end..];
    }
    out
}

#[test]
fn spec_examples_parse() {
    let dir = fixture("vectors/spec-ms-wsmv");
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    let mut requests = 0;
    let mut responses = 0;
    let mut report = Vec::new();
    for path in names {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for (i, env) in envelopes(&text).into_iter().enumerate() {
            let action_start = env.find("Action").map(|p| &env[p..]).unwrap_or("");
            let action: String = action_start
                .split_once('>')
                .map(|(_, rest)| rest.split('<').next().unwrap_or("").trim().to_owned())
                .unwrap_or_default();
            let is_response = action.ends_with("Response") || action.ends_with("fault");
            if is_response {
                match parse_response(env.as_bytes(), &Limits::default()) {
                    Ok(r) => {
                        responses += 1;
                        if let ResponseBody::Fault(f) = &r.body {
                            report.push(format!("{file}#{i}: fault {:?}", f.kind()));
                        }
                    }
                    Err(e) => report.push(format!("{file}#{i}: response {action}: {e}")),
                }
            } else {
                match parse_request(env.as_bytes(), &Limits::default()) {
                    Ok(_) => requests += 1,
                    Err(e) => report.push(format!("{file}#{i}: request {action}: {e}")),
                }
            }
        }
    }
    let errors: Vec<_> = report.iter().filter(|r| !r.contains(": fault ")).collect();
    // 4.11.3 also shows robust-connection Acknowledge and a Get on a test provider's resource, both outside the shell
    // protocol: they must be refused with these typed errors, and nothing else may fail.
    let expected = [
        "MS-WSMV_4_11_3_robust_reconnect_after_network_failure.md#2: request http://schemas.microsoft.com/wbem/wsman/1/wsman/Acknowledge: unsupported action \"http://schemas.microsoft.com/wbem/wsman/1/wsman/Acknowledge\"",
        "MS-WSMV_4_11_3_robust_reconnect_after_network_failure.md#3: response http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse: the Shell or Config element is missing",
    ];
    assert_eq!(errors, expected.iter().collect::<Vec<_>>());
    assert!(requests >= 10 && responses >= 10, "{requests} requests, {responses} responses");
}

//! The WinRM request handler on arbitrary bytes, without sockets: the input is split at `\0\0` into up to eight
//! envelopes handed in order to one `Service` (so a Create can be followed by operations on its shell). Every
//! envelope must get a well-formed response envelope (200 success or 500 fault) — never a panic or a hang (time is
//! paused, so long-poll Receives and idle timers complete at once).
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use pssession_server::plugin::{OutputSink, Plugin, PluginShell, ShellInfo, SignalCode, Uuid, WsmanFault};
use pssession_server::{Caller, Service, ServiceConfig};
use pssession_wsman::envelope::{Limits, ResponseBody, parse_response};

/// Fuzz-only plugin: echoes creationXml and Send data to the pool output, finishes every command at once.
struct EchoFuzzPlugin;

struct EchoFuzzShell {
    pool: OutputSink,
}

impl Plugin for EchoFuzzPlugin {
    fn create_shell(
        &self,
        _shell: &ShellInfo,
        creation_xml: &[u8],
        output: OutputSink,
    ) -> Result<Arc<dyn PluginShell>, WsmanFault> {
        let data = creation_xml.to_vec();
        let sink = output.clone();
        tokio::spawn(async move { sink.write(data).await });
        Ok(Arc::new(EchoFuzzShell { pool: output }))
    }
}

impl PluginShell for EchoFuzzShell {
    fn send(&self, _command: Option<Uuid>, _stream: &str, data: &[u8]) -> Result<(), WsmanFault> {
        let (sink, data) = (self.pool.clone(), data.to_vec());
        tokio::spawn(async move { sink.write(data).await });
        Ok(())
    }

    fn command(&self, _command_id: Uuid, arguments: &[u8], output: OutputSink) -> Result<(), WsmanFault> {
        let data = arguments.to_vec();
        tokio::spawn(async move {
            output.write(data).await;
            output.finish(0);
        });
        Ok(())
    }

    fn signal(&self, _command: Option<Uuid>, _code: SignalCode) -> Result<(), WsmanFault> {
        Ok(())
    }

    fn connect(&self, connect_xml: &[u8]) -> Result<Vec<u8>, WsmanFault> {
        Ok(connect_xml.to_vec())
    }

    fn close(&self) {}
}

fuzz_target!(|data: &[u8]| {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build() else {
        return;
    };
    runtime.block_on(async {
        let plugin: Arc<dyn Plugin> = Arc::new(EchoFuzzPlugin);
        let mut config = ServiceConfig::default();
        config.output_buffer_bytes = 4096;
        let service = Service::new(config, [("Microsoft.PowerShell".to_owned(), plugin)]);
        let caller = Caller::new("", "fuzz", "127.0.0.1");
        let mut rest = data;
        for _ in 0..8 {
            let (envelope, next) = match rest.windows(2).position(|w| w == b"\0\0") {
                Some(i) => (&rest[..i], &rest[i + 2..]),
                None => (rest, &[][..]),
            };
            let reply = service.handle_envelope(&caller, envelope).await;
            let response = parse_response(&reply.body, &Limits::default()).expect("the service writes valid envelopes");
            assert_eq!(reply.status == 500, matches!(response.body, ResponseBody::Fault(_)));
            if next.is_empty() {
                break;
            }
            rest = next;
        }
        service.close_all();
    });
});

// Prober: runs one check of a container's health, as a pod's liveness, readiness and
// startup probes describe it (api::v1::Probe: exec, httpGet or tcpSocket).
//
// The node agent decides when to probe and what the results mean (periods, thresholds,
// restarts); a Prober only answers "did this one check pass". Two implementations:
//   - NewProber(runtime, executor): the real checks, as the kubelet makes them: exec
//     through the runtime (ExecSync; exit code 0 passes), httpGet with libcurl (a status
//     from 200 to 399 passes; headers, scheme, host, path, port by number or by the
//     container's port name), tcpSocket (the connection opens). Every check honours the
//     probe's timeoutSeconds.
//   - FakeRuntime is a Prober too: it answers from its script (orch/runtime/fake_runtime.h)
//     whatever the probe's kind, so simulated pods need no network.
//
// Thread safety: Probe may be called from any thread; `done` runs exactly once, on the
// executor (real checks) or the runtime's executor (fake). Errors: a check that cannot be
// made (no such port name, no address) fails with a message saying why.
#ifndef ORCH_RUNTIME_PROBER_H_
#define ORCH_RUNTIME_PROBER_H_

#include <functional>
#include <memory>
#include <string>

#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/runtime/runtime.h"

namespace orch::runtime {

enum class ProbeKind { kLiveness, kReadiness, kStartup };

struct ProbeRequest {
  ProbeKind kind = ProbeKind::kReadiness;
  api::v1::Probe probe;        // what to check, and its timeoutSeconds
  api::v1::Container container;  // for port names and the exec environment
  std::string container_id;    // the runtime's id of the running container
  std::string pod_ip;          // where httpGet and tcpSocket connect, unless they name a host
};

struct ProbeResult {
  bool success = false;
  std::string message;  // why it failed ("HTTP probe failed with statuscode: 500", ...)
};

class Prober {
 public:
  Prober() = default;
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;
  virtual ~Prober() = default;

  virtual void Probe(const ProbeRequest& request, std::function<void(ProbeResult)> done) = 0;
};

// The real checks. httpGet and tcpSocket block an executor thread for up to the probe's
// timeout: give the agent a thread pool. `runtime` and `executor` must outlive it.
std::unique_ptr<Prober> NewProber(Runtime* runtime, Executor* executor);

}  // namespace orch::runtime

#endif  // ORCH_RUNTIME_PROBER_H_

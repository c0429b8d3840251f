// libFuzzer target for the scenario parser (orch/sim/scenario.h).
//
// Properties checked on every input:
//   - ParseScenario never crashes, hangs, throws or trips a sanitizer, whatever the bytes,
//     and a refusal is kInvalidArgument naming the source;
//   - what parses is what a run needs: every apply's manifests decode (an inline manifest
//     re-encoded as text must mean what was written), and every expectation's text, read
//     back as an expectation, gives the same expectation.
// A violated property aborts, which libFuzzer reports as a crash with the input saved.
// `apply: {file: ...}` resolves against examples/scenarios, so `file: web.yaml` works.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "orch/api/codec.h"
#include "orch/api/scheme.h"
#include "orch/sim/scenario.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "scenario_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

void CheckExpectationReadsBack(const orch::sim::Expectation& e, absl::Duration run_until) {
  // A `requests` expectation names a stream, which must be there.
  const std::string traffic =
      e.subject.kind == orch::sim::Subject::Kind::kRequests
          ? "traffic: [{name: " + e.subject.stream + ", service: s, rate: 1}]\n"
          : "";
  const std::string text = traffic + "expect: [" + e.text +
                           "]\nrunUntil: " + absl::FormatDuration(run_until) + "\n";
  absl::StatusOr<orch::sim::Scenario> again = orch::sim::ParseScenario(text, "again");
  if (!again.ok()) {
    Fail("an expectation's text does not parse", again.status().ToString() + "\n" + text);
  }
  const orch::sim::Expectation& a = again->expect.at(0);
  if (a.text != e.text || a.when != e.when || a.at != e.at || a.until != e.until ||
      a.subject.kind != e.subject.kind || a.ready_replicas != e.ready_replicas ||
      a.min_available != e.min_available || a.max_pods != e.max_pods || a.count != e.count ||
      a.min_count != e.min_count || a.max_count != e.max_count ||
      a.min_restarts != e.min_restarts || a.max_restarts != e.max_restarts ||
      a.max_failed != e.max_failed || a.min_succeeded != e.min_succeeded ||
      a.subject.stream != e.subject.stream ||
      a.subject.deployment.ToString() != e.subject.deployment.ToString() ||
      a.subject.selector.ToString() != e.subject.selector.ToString() ||
      a.subject.pod_namespace != e.subject.pod_namespace || a.subject.phase != e.subject.phase ||
      a.subject.node != e.subject.node || a.subject.ready != e.subject.ready) {
    Fail("an expectation's text reads back differently", e.text + "\n" + a.text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<orch::sim::Scenario> scenario =
      orch::sim::ParseScenario(input, "fuzz", ORCH_SOURCE_DIR "/examples/scenarios");
  if (!scenario.ok()) {
    if (scenario.status().code() != absl::StatusCode::kInvalidArgument ||
        scenario.status().message().substr(0, 6) != "fuzz: ") {
      Fail("a refusal that is not kInvalidArgument \"fuzz: ...\"", scenario.status().ToString());
    }
    return 0;
  }
  for (const orch::sim::Action& action : scenario->timeline) {
    if (action.kind != orch::sim::Action::Kind::kApply) continue;
    auto objects = orch::api::DecodeManifests(action.manifests, action.manifests_source,
                                              orch::api::Scheme::Builtin());
    if (!objects.ok() || objects->empty()) {
      Fail("an apply's manifests do not decode",
           objects.status().ToString() + "\n" + action.manifests);
    }
  }
  for (const orch::sim::Expectation& e : scenario->expect) {
    CheckExpectationReadsBack(e, scenario->run_until);
  }
  return 0;
}

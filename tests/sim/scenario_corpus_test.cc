// Replays the scenario fuzzer's kept corpus (fuzz/corpus/scenario: seeds and every input
// the fuzzer ever crashed on) through the checks of fuzz/scenario_fuzz.cc, in every test
// build, so a fixed crash stays fixed even where libFuzzer is not built.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "orch/api/codec.h"
#include "orch/api/scheme.h"
#include "orch/sim/scenario.h"
#include "support/status_matchers.h"

namespace orch::sim {
namespace {

const std::filesystem::path kSourceDir(ORCH_SOURCE_DIR);

std::vector<std::filesystem::path> CorpusFiles() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry :
       std::filesystem::directory_iterator(kSourceDir / "fuzz/corpus/scenario")) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// An expectation's text, read back as an expectation, is the same expectation.
void ExpectReadsBack(const Expectation& e, absl::Duration run_until) {
  // A `requests` expectation names a stream, which must be there.
  const std::string traffic = e.subject.kind == Subject::Kind::kRequests
                                  ? "traffic: [{name: " + e.subject.stream + ", service: s, rate: 1}]\n"
                                  : "";
  const std::string text = traffic + "expect: [" + e.text +
                           "]\nrunUntil: " + absl::FormatDuration(run_until) + "\n";
  SCOPED_TRACE(text);
  ORCH_ASSERT_OK_AND_ASSIGN(Scenario again, ParseScenario(text, "again"));
  ASSERT_EQ(again.expect.size(), 1u);
  const Expectation& a = again.expect[0];
  EXPECT_EQ(a.text, e.text);
  EXPECT_EQ(a.when, e.when);
  EXPECT_EQ(a.at, e.at);
  EXPECT_EQ(a.until, e.until);
  EXPECT_EQ(a.subject.kind, e.subject.kind);
  EXPECT_EQ(a.subject.selector.ToString(), e.subject.selector.ToString());
  EXPECT_EQ(a.subject.pod_namespace, e.subject.pod_namespace);
  EXPECT_EQ(a.ready_replicas, e.ready_replicas);
  EXPECT_EQ(a.count, e.count);
  EXPECT_EQ(a.max_restarts, e.max_restarts);
  EXPECT_EQ(a.subject.stream, e.subject.stream);
  EXPECT_EQ(a.max_failed, e.max_failed);
  EXPECT_EQ(a.min_succeeded, e.min_succeeded);
}

TEST(ScenarioCorpusTest, EveryInputParsesOrFailsCleanly) {
  const std::vector<std::filesystem::path> files = CorpusFiles();
  ASSERT_GE(files.size(), 10u);
  int parsed = 0;
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    std::ifstream in(file, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    absl::StatusOr<Scenario> scenario =
        ParseScenario(buffer.str(), "corpus", (kSourceDir / "examples/scenarios").string());
    if (!scenario.ok()) {
      // A refusal is fine; it must be a clean kInvalidArgument naming the input.
      EXPECT_EQ(scenario.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(scenario.status().message().substr(0, 8), "corpus: ");
      EXPECT_EQ(file.filename().string().substr(0, 6), "error-") << scenario.status();
      continue;
    }
    ++parsed;
    for (const Action& action : scenario->timeline) {
      if (action.kind != Action::Kind::kApply) continue;
      ORCH_ASSERT_OK_AND_ASSIGN(
          auto objects, api::DecodeManifests(action.manifests, action.manifests_source,
                                             api::Scheme::Builtin()));
      EXPECT_FALSE(objects.empty());
    }
    for (const Expectation& e : scenario->expect) ExpectReadsBack(e, scenario->run_until);
  }
  EXPECT_GE(parsed, 3);
}

}  // namespace
}  // namespace orch::sim

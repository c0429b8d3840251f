// orch-sim, the built command: exit codes (0 every expectation held, 1 one failed, 2 a bad
// scenario or bad arguments, naming the file and field), the JSON report and the CSV
// series it writes, and the same report byte for byte for the same seed.
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/process.h"
#include "support/status_matchers.h"

namespace orch {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class OrchSimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One per test: ctest runs them as separate processes at the same time.
    dir_ = fs::path(::testing::TempDir()) /
           (std::string("orch-sim-test-") +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  testing::CommandResult Sim(std::vector<std::string> args) {
    args.insert(args.begin(), ORCH_SIM_PATH);
    absl::StatusOr<testing::CommandResult> result = testing::Run(args, absl::Seconds(120));
    EXPECT_THAT(result, testing::IsOk());
    return result.ok() ? *result : testing::CommandResult{};
  }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    EXPECT_THAT(testing::WriteFile(path, text), testing::IsOk());
    return path;
  }
  std::string Read(const std::string& name) {
    return testing::ReadFile((dir_ / name).string()).value_or("");
  }

  fs::path dir_;
};

const std::string kExamples = std::string(ORCH_SOURCE_DIR) + "/examples/scenarios/";

TEST_F(OrchSimTest, APassingScenarioExits0AndWritesItsReportAndSeries) {
  testing::CommandResult result = Sim({"run", kExamples + "node-loss.yaml", "--report",
                                       (dir_ / "a.json").string(), "--csv", (dir_ / "csv").string()});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("PASS: 13m20s"));
  EXPECT_THAT(result.output, ::testing::Not(HasSubstr("pods running")));  // no progress on a pipe
  EXPECT_THAT(result.output, HasSubstr("ok     expect[3] {within: 90s, after: 390s"));
  const std::string report = Read("a.json");
  EXPECT_THAT(report, HasSubstr("\"ok\": true"));
  EXPECT_THAT(report, HasSubstr("\"seed\": 7,"));
  std::vector<std::string> csv = absl::StrSplit(Read("csv/ready.csv"), '\n', absl::SkipEmpty());
  ASSERT_EQ(csv.size(), 82u);  // the header, then 0 s to 800 s every 10 s
  EXPECT_EQ(csv[0], "seconds,default/web");
  EXPECT_EQ(csv[81], "800,6");

  // Again, and with another seed: the same bytes but for the wall time; the seed shows.
  ASSERT_EQ(Sim({"run", kExamples + "node-loss.yaml", "--report", (dir_ / "b.json").string()}).exit_code, 0);
  ASSERT_EQ(Sim({"run", kExamples + "node-loss.yaml", "--seed", "8", "--report",
                 (dir_ / "c.json").string()}).exit_code, 0);
  auto without_wall = [](std::string json) {
    const size_t at = json.find("\"wallSeconds\"");
    return json.erase(at, json.find('\n', at) - at);
  };
  EXPECT_EQ(without_wall(Read("a.json")), without_wall(Read("b.json")));
  EXPECT_THAT(Read("c.json"), HasSubstr("\"seed\": 8,"));
}

TEST_F(OrchSimTest, AFailedExpectationExits1AndSaysWhatWasSeen) {
  const std::string path = Write("short.yaml", R"(
nodes: [{count: 1}]
timeline:
  - at: 0s
    apply:
      manifest: {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: c, image: "x:1"}]}}
expect:
  - {at: 10s, pods: {selector: "", phase: Running}, count: 2}
runUntil: 20s
)");
  testing::CommandResult result = Sim({"run", path, "--report", "-"});
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("\"ok\": false"));
  EXPECT_THAT(result.output, HasSubstr("\"observed\": \"count 1 (needed 2) at 10s\""));
}

TEST_F(OrchSimTest, ABadScenarioOrBadArgumentsExit2NamingWhatIsWrong) {
  const std::string path = Write("bad.yaml", "nodes: [{count: 1}]\ntimeline: [{at: 5s, scale: {deployment: web, replicas: ten}}]\nrunUntil: 1m\n");
  testing::CommandResult bad = Sim({"run", path});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.output, HasSubstr("bad.yaml: timeline[0].scale.replicas"));
  EXPECT_EQ(Sim({"run"}).exit_code, 2);
  EXPECT_EQ(Sim({"run", path, "--seed", "minus"}).exit_code, 2);
  EXPECT_EQ(Sim({"run", path, "--bogus"}).exit_code, 2);
  EXPECT_EQ(Sim({"walk", path}).exit_code, 2);
  testing::CommandResult missing = Sim({"run", (dir_ / "nope.yaml").string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.output, HasSubstr("nope.yaml: cannot read the file"));
}

}  // namespace
}  // namespace orch

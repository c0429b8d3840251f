// Replays the codec fuzzer's kept corpus (fuzz/corpus/codec: seeds and every input the
// fuzzer ever crashed on) through the same checks as fuzz/codec_fuzz.cc, in every test
// build, so a fixed crash stays fixed even where libFuzzer is not built.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "orch/api/codec.h"
#include "orch/api/scheme.h"
#include "support/status_matchers.h"

namespace orch::api {
namespace {

std::vector<std::filesystem::path> CorpusFiles() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(
           std::filesystem::path(ORCH_SOURCE_DIR) / "fuzz/corpus/codec")) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void ExpectSameAfterReDecoding(const google::protobuf::Message& object, const std::string& text,
                               const DecodeOptions& options) {
  SCOPED_TRACE(text);
  ORCH_ASSERT_OK_AND_ASSIGN(auto again,
                            DecodeManifests(text, "encoded", Scheme::Builtin(), options));
  ASSERT_EQ(again.size(), 1u);
  std::string differences;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&differences);
  EXPECT_TRUE(differencer.Compare(object, *again[0].object)) << differences;
}

TEST(CodecCorpusTest, EveryInputDecodesOrFailsCleanlyAndRoundTrips) {
  const std::vector<std::filesystem::path> files = CorpusFiles();
  ASSERT_GE(files.size(), 30u);
  int decoded_objects = 0;
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    std::ifstream in(file, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string input = buffer.str();
    for (const DecodeOptions& options :
         {DecodeOptions{}, DecodeOptions{.apply_defaults = false, .validate = false}}) {
      absl::StatusOr<std::vector<DecodedObject>> objects =
          DecodeManifests(input, "corpus", Scheme::Builtin(), options);
      if (!objects.ok()) {
        // A refusal is fine; it must be a clean kInvalidArgument naming the input.
        EXPECT_EQ(objects.status().code(), absl::StatusCode::kInvalidArgument);
        EXPECT_EQ(objects.status().message().substr(0, 8), "corpus: ");
        continue;
      }
      for (const DecodedObject& object : *objects) {
        ORCH_ASSERT_OK_AND_ASSIGN(std::string yaml, EncodeYaml(*object.object));
        ExpectSameAfterReDecoding(*object.object, yaml, options);
        ORCH_ASSERT_OK_AND_ASSIGN(std::string json, EncodeJson(*object.object));
        ExpectSameAfterReDecoding(*object.object, json, options);
        ++decoded_objects;
      }
    }
  }
  EXPECT_GT(decoded_objects, 0);
}

}  // namespace
}  // namespace orch::api

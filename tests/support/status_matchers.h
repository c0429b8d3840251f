// gMock matchers for absl::Status and absl::StatusOr, for orch's tests and for hosts'.
//   EXPECT_THAT(store.Get(key), IsOk());
//   EXPECT_THAT(store.Create(key, v), StatusIs(absl::StatusCode::kAlreadyExists));
//   EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.replicas")));
//   ORCH_ASSERT_OK_AND_ASSIGN(auto kv, store.Get(key));
#ifndef ORCH_TESTS_SUPPORT_STATUS_MATCHERS_H_
#define ORCH_TESTS_SUPPORT_STATUS_MATCHERS_H_

#include <ostream>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace orch::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatus(arg);
  if (!status.ok()) *result_listener << "status is " << status;
  return status.ok();
}

MATCHER_P(StatusIs, code, "has code " + absl::StatusCodeToString(code)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status;
  return status.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has code " + absl::StatusCodeToString(code) + " and a matching message") {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(status.message()),
                                       result_listener);
}

// An OK StatusOr whose value matches `value_matcher`.
MATCHER_P(IsOkAndHolds, value_matcher, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

}  // namespace orch::testing

#define ORCH_TEST_CONCAT_INNER_(a, b) a##b
#define ORCH_TEST_CONCAT_(a, b) ORCH_TEST_CONCAT_INNER_(a, b)
#define ORCH_ASSERT_OK(expr) ASSERT_THAT((expr), ::orch::testing::IsOk())
#define ORCH_EXPECT_OK(expr) EXPECT_THAT((expr), ::orch::testing::IsOk())
#define ORCH_ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ORCH_ASSERT_OK_AND_ASSIGN_IMPL_(ORCH_TEST_CONCAT_(orch_statusor_, __LINE__), lhs, expr)
#define ORCH_ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  ASSERT_TRUE(tmp.ok()) << tmp.status();                \
  lhs = std::move(tmp).value()

#endif  // ORCH_TESTS_SUPPORT_STATUS_MATCHERS_H_

#include "controller/expectations.h"

namespace orch::controller::internal {

bool Expectations::Satisfied(std::string_view key) const {
  MutexLock lock(&mu_);
  auto it = records_.find(key);
  if (it == records_.end()) return true;
  const Record& r = it->second;
  if (r.creations <= 0 && r.deletions.empty()) return true;
  return clock_->Now() - r.set_at > kTimeout;
}

void Expectations::ExpectCreations(std::string_view key, int count) {
  MutexLock lock(&mu_);
  Record& r = records_[key];
  r.creations = count;
  r.deletions.clear();
  r.set_at = clock_->Now();
}

void Expectations::ExpectDeletions(std::string_view key, const std::vector<std::string>& pod_keys) {
  MutexLock lock(&mu_);
  Record& r = records_[key];
  r.creations = 0;
  r.deletions = StringSet(pod_keys.begin(), pod_keys.end());
  r.set_at = clock_->Now();
}

void Expectations::CreationObserved(std::string_view key) {
  MutexLock lock(&mu_);
  auto it = records_.find(key);
  if (it != records_.end()) --it->second.creations;
}

void Expectations::DeletionObserved(std::string_view key, std::string_view pod_key) {
  MutexLock lock(&mu_);
  auto it = records_.find(key);
  if (it != records_.end()) it->second.deletions.erase(pod_key);
}

void Expectations::Delete(std::string_view key) {
  MutexLock lock(&mu_);
  records_.erase(key);
}

}  // namespace orch::controller::internal

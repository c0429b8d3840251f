#include "orch/store/store.h"

#include <ostream>

namespace orch::store {

const std::string& SharedBytes::Empty() {
  static const std::string* const empty = new std::string();
  return *empty;
}

namespace {

// SharedBytes::Blob::decoded once a reader has looked: attaching is too late.
google::protobuf::Message* const kTaken = reinterpret_cast<google::protobuf::Message*>(
    alignof(google::protobuf::Message));

}  // namespace

SharedBytes::Blob::~Blob() {
  google::protobuf::Message* left = decoded.load(std::memory_order_acquire);
  if (left != kTaken) delete left;
}

void SharedBytes::AttachDecoded(std::unique_ptr<google::protobuf::Message> decoded) const {
  if (blob_ == nullptr) return;
  google::protobuf::Message* expected = nullptr;
  if (blob_->decoded.compare_exchange_strong(expected, decoded.get(), std::memory_order_acq_rel)) {
    decoded.release();  // the blob owns it now
  }
}

bool SharedBytes::HoldsDecoded() const {
  if (blob_ == nullptr) return false;
  google::protobuf::Message* held = blob_->decoded.load(std::memory_order_relaxed);
  return held != nullptr && held != kTaken;
}

std::shared_ptr<const google::protobuf::Message> SharedBytes::TakeDecoded() const {
  if (blob_ == nullptr) return nullptr;
  google::protobuf::Message* taken = blob_->decoded.exchange(kTaken, std::memory_order_acq_rel);
  if (taken == nullptr || taken == kTaken) return nullptr;
  // Only the one exchange that found the message gets here: `taken` has one writer.
  std::shared_ptr<const google::protobuf::Message> shared(taken);
  blob_->taken = shared;
  blob_->taken_as.store(taken, std::memory_order_release);
  return shared;
}

bool SharedBytes::IsTakenAs(const google::protobuf::Message& object) const {
  if (blob_ == nullptr || blob_->taken_as.load(std::memory_order_acquire) != &object) {
    return false;
  }
  // The handed-out message lives (not expired) while `object` lives at its address: they
  // are one object. Had it died, `object` would merely reuse its memory.
  return !blob_->taken.expired();
}

std::ostream& operator<<(std::ostream& os, const SharedBytes& bytes) { return os << bytes.str(); }

}  // namespace orch::store

#include "orch/store/store.h"

#include <cstdint>
#include <ostream>

namespace orch::store {

const std::string& SharedBytes::Empty() {
  static const std::string* const empty = new std::string();
  return *empty;
}

namespace {

using google::protobuf::Message;

// SharedBytes::Blob::decoded once a reader has looked: attaching is too late.
Message* const kTaken = reinterpret_cast<Message*>(alignof(Message));

// SharedBytes::Blob::decoded while the message TakeDecoded handed out lives: its address,
// marked (a message is aligned, so the lowest bit is free).
constexpr uintptr_t kHandedOutBit = 1;
Message* HandedOutMark(const Message* message) {
  return reinterpret_cast<Message*>(reinterpret_cast<uintptr_t>(message) | kHandedOutBit);
}
bool IsHandedOutMark(const Message* decoded) {
  return (reinterpret_cast<uintptr_t>(decoded) & kHandedOutBit) != 0;
}

}  // namespace

// Unmarks the bytes (if they are still around) before the message goes, so that no object
// later made at its address passes for it.
struct SharedBytes::HandedOut {
  std::weak_ptr<const Blob> blob;
  void operator()(const Message* message) const {
    if (std::shared_ptr<const Blob> bytes = blob.lock()) {
      Message* expected = HandedOutMark(message);
      bytes->decoded.compare_exchange_strong(expected, kTaken, std::memory_order_acq_rel);
    }
    delete message;
  }
};

SharedBytes::Blob::~Blob() {
  Message* left = decoded.load(std::memory_order_acquire);
  if (left != kTaken && !IsHandedOutMark(left)) delete left;
}

void SharedBytes::AttachDecoded(std::unique_ptr<Message> decoded) const {
  if (blob_ == nullptr) return;
  Message* expected = nullptr;
  if (blob_->decoded.compare_exchange_strong(expected, decoded.get(), std::memory_order_acq_rel)) {
    decoded.release();  // the blob owns it now
  }
}

bool SharedBytes::HoldsDecoded() const {
  if (blob_ == nullptr) return false;
  Message* held = blob_->decoded.load(std::memory_order_relaxed);
  return held != nullptr && held != kTaken && !IsHandedOutMark(held);
}

std::shared_ptr<const Message> SharedBytes::TakeDecoded() const {
  if (blob_ == nullptr) return nullptr;
  Message* held = blob_->decoded.load(std::memory_order_acquire);
  do {
    if (held == kTaken || IsHandedOutMark(held)) return nullptr;
  } while (!blob_->decoded.compare_exchange_weak(
      held, held == nullptr ? kTaken : HandedOutMark(held), std::memory_order_acq_rel));
  if (held == nullptr) return nullptr;
  return std::shared_ptr<const Message>(held, HandedOut{blob_});
}

bool SharedBytes::IsTakenAs(const Message& object) const {
  return blob_ != nullptr &&
         blob_->decoded.load(std::memory_order_acquire) == HandedOutMark(&object);
}

std::ostream& operator<<(std::ostream& os, const SharedBytes& bytes) { return os << bytes.str(); }

}  // namespace orch::store

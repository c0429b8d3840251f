#include "orch/controller/predicate.h"

#include <memory>
#include <utility>

#include "orch/api/scheme.h"

namespace orch::controller {

namespace {

using google::protobuf::Message;

// Passes updates where `same` says one part of the two objects' metadata differs.
template <typename Same>
Predicate MetadataChanged(Same same) {
  Predicate p;
  p.on_update = [same](const Message& old_obj, const Message& new_obj) {
    const api::v1::ObjectMeta* before = api::ObjectMetaOf(old_obj);
    const api::v1::ObjectMeta* after = api::ObjectMetaOf(new_obj);
    if (before == nullptr || after == nullptr) return false;
    return !same(*before, *after);
  };
  return p;
}

template <typename Map>
bool SameMap(const Map& a, const Map& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [key, value] : a) {
    auto it = b.find(key);
    if (it == b.end() || it->second != value) return false;
  }
  return true;
}

// AnyOf (kAny) and AllOf: the first predicate whose answer is kAny decides; otherwise
// the answer is !kAny.
template <bool kAny>
Predicate Combine(std::vector<Predicate> predicates) {
  auto all = std::make_shared<const std::vector<Predicate>>(std::move(predicates));
  auto decide = [all](auto test) {
    for (const Predicate& q : *all) {
      if (test(q) == kAny) return kAny;
    }
    return !kAny;
  };
  Predicate p;
  p.on_create = [decide](const Message& obj) {
    return decide([&](const Predicate& q) { return q.Create(obj); });
  };
  p.on_update = [decide](const Message& old_obj, const Message& new_obj) {
    return decide([&](const Predicate& q) { return q.Update(old_obj, new_obj); });
  };
  p.on_delete = [decide](const Message& obj) {
    return decide([&](const Predicate& q) { return q.Delete(obj); });
  };
  return p;
}

}  // namespace

Predicate GenerationChanged() {
  return MetadataChanged([](const api::v1::ObjectMeta& a, const api::v1::ObjectMeta& b) {
    return a.generation() == b.generation();
  });
}

Predicate ResourceVersionChanged() {
  return MetadataChanged([](const api::v1::ObjectMeta& a, const api::v1::ObjectMeta& b) {
    return a.resource_version() == b.resource_version();
  });
}

Predicate LabelsChanged() {
  return MetadataChanged([](const api::v1::ObjectMeta& a, const api::v1::ObjectMeta& b) {
    return SameMap(a.labels(), b.labels());
  });
}

Predicate AnnotationsChanged() {
  return MetadataChanged([](const api::v1::ObjectMeta& a, const api::v1::ObjectMeta& b) {
    return SameMap(a.annotations(), b.annotations());
  });
}

Predicate AnyOf(std::vector<Predicate> predicates) { return Combine<true>(std::move(predicates)); }

Predicate AllOf(std::vector<Predicate> predicates) { return Combine<false>(std::move(predicates)); }

}  // namespace orch::controller

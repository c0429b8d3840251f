// Predicates: which watch events reach a controller's queue (controller-runtime's
// predicate package).
//
// A Predicate has one test per kind of event; an empty test lets every event of that
// kind through. A controller enqueues for an event only if every predicate that applies
// to the watch lets it through.
//
//   builder.WithEventFilter(controller::GenerationChanged());   // ignore status-only writes
//
// Objects are messages of the watched kind; api::ObjectMetaOf reads their metadata.
// Thread safety: tests are called from informer handlers, possibly on several threads at
// once (a ThreadPoolExecutor): they must not change shared state unguarded.
#ifndef ORCH_CONTROLLER_PREDICATE_H_
#define ORCH_CONTROLLER_PREDICATE_H_

#include <functional>
#include <vector>

#include "google/protobuf/message.h"

namespace orch::controller {

struct Predicate {
  std::function<bool(const google::protobuf::Message& obj)> on_create;
  std::function<bool(const google::protobuf::Message& old_obj,
                     const google::protobuf::Message& new_obj)>
      on_update;
  std::function<bool(const google::protobuf::Message& obj)> on_delete;

  bool Create(const google::protobuf::Message& obj) const { return !on_create || on_create(obj); }
  bool Update(const google::protobuf::Message& old_obj,
              const google::protobuf::Message& new_obj) const {
    return !on_update || on_update(old_obj, new_obj);
  }
  bool Delete(const google::protobuf::Message& obj) const { return !on_delete || on_delete(obj); }
};

// Updates pass only when metadata.generation changed — that is, when the spec changed
// (status and metadata-only writes are filtered out). Creates and deletes pass. For kinds
// that do not bump generation (it stays 0), every update is filtered out.
Predicate GenerationChanged();
// Updates pass only when resourceVersion changed (informers deliver no others, so this
// filters nothing but re-deliveries).
Predicate ResourceVersionChanged();
// Updates pass only when metadata.labels changed.
Predicate LabelsChanged();
// Updates pass only when metadata.annotations changed.
Predicate AnnotationsChanged();
// Passes an event when any of `predicates` does (none: passes nothing).
Predicate AnyOf(std::vector<Predicate> predicates);
// Passes an event when every one of `predicates` does (none: passes everything).
Predicate AllOf(std::vector<Predicate> predicates);

}  // namespace orch::controller

#endif  // ORCH_CONTROLLER_PREDICATE_H_

// The Website operator: for every Website (example.orch.dev/v1) it keeps a Deployment of
// the same name running spec.replicas copies of spec.image, and reports in
// status.readyReplicas and status.phase how many are available.
//
//   api::Scheme scheme = api::Scheme::Builtin();
//   ORCH_RETURN_IF_ERROR(example::RegisterWebsite(scheme));   // before sharing the scheme
//   ... a Client and informers over `scheme`, a controller::Manager ...
//   ORCH_RETURN_IF_ERROR(example::AddWebsiteController(&manager).status());
#ifndef ORCH_EXAMPLES_OPERATOR_WEBSITE_OPERATOR_H_
#define ORCH_EXAMPLES_OPERATOR_WEBSITE_OPERATOR_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "orch/api/scheme.h"
#include "orch/controller/controller.h"
#include "website.pb.h"

namespace example {

// Registers Website (plural "websites", namespaced) with its defaults (replicas 1) and
// validation (replicas >= 0, an image). kAlreadyExists if registered before.
absl::Status RegisterWebsite(orch::api::Scheme& scheme);

// Adds the controller, named "website"; it owns Deployments.
absl::StatusOr<orch::controller::Controller*> AddWebsiteController(orch::controller::Manager* manager);

}  // namespace example

#endif  // ORCH_EXAMPLES_OPERATOR_WEBSITE_OPERATOR_H_

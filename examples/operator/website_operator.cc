#include "website_operator.h"

#include <memory>
#include <string>
#include <utility>

#include "fmt/format.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/client/informer.h"
#include "orch/controller/ownership.h"

namespace example {

namespace {

namespace v1 = orch::api::v1;
namespace controller = orch::controller;

// The Deployment a Website asks for.
v1::Deployment Desired(const Website& site) {
  v1::Deployment d;
  d.mutable_metadata()->set_name(site.metadata().name());
  d.mutable_metadata()->set_namespace_(site.metadata().namespace_());
  (*d.mutable_metadata()->mutable_labels())["website"] = site.metadata().name();
  d.mutable_spec()->set_replicas(site.spec().replicas());
  (*d.mutable_spec()->mutable_selector()->mutable_match_labels())["website"] = site.metadata().name();
  auto* tmpl = d.mutable_spec()->mutable_template_();
  (*tmpl->mutable_metadata()->mutable_labels())["website"] = site.metadata().name();
  v1::Container* c = tmpl->mutable_spec()->add_containers();
  c->set_name("web");
  c->set_image(site.spec().image());
  return d;
}

class WebsiteReconciler final : public controller::Reconciler {
 public:
  WebsiteReconciler(orch::client::Client* client, orch::client::EventRecorder* events,
                    orch::client::Lister<Website> sites,
                    orch::client::Lister<v1::Deployment> deployments)
      : client_(client), events_(events), sites_(sites), deployments_(deployments) {}

  controller::Result Reconcile(const controller::Request& req) override {
    auto cached = sites_.Get(req.ns, req.name);
    if (absl::IsNotFound(cached.status())) return {};  // its Deployment goes with it (GC)
    ORCH_RETURN_IF_ERROR(cached.status());
    Website site = **cached;
    if (site.metadata().has_deletion_timestamp()) return {};

    const v1::Deployment desired = Desired(site);
    int32_t available = 0;
    auto existing = deployments_.Get(req.ns, req.name);
    if (absl::IsNotFound(existing.status())) {
      v1::Deployment d = desired;
      ORCH_RETURN_IF_ERROR(controller::SetControllerReference(site, d, *client_->scheme()));
      absl::StatusOr<v1::Deployment> created = client_->Create(d);
      if (!absl::IsAlreadyExists(created.status())) ORCH_RETURN_IF_ERROR(created.status());
      (void)events_->Record(site, orch::client::kEventNormal, "CreatedDeployment",
                            fmt::format("Created deployment {}", req.name));
    } else {
      ORCH_RETURN_IF_ERROR(existing.status());
      const v1::Deployment& d = **existing;
      if (!controller::IsOwnedBy(d, site)) {
        return controller::TerminalError(absl::AlreadyExistsError(fmt::format(
            "deployment {}/{} exists and is not owned by website {}", req.ns, req.name, req.name)));
      }
      available = d.status().available_replicas();
      if (d.spec().replicas() != desired.spec().replicas() ||
          d.spec().template_().spec().containers(0).image() != site.spec().image()) {
        v1::Deployment changed = d;
        changed.mutable_spec()->set_replicas(desired.spec().replicas());
        changed.mutable_spec()->mutable_template_()->mutable_spec()->mutable_containers(0)->set_image(
            site.spec().image());
        ORCH_RETURN_IF_ERROR(client_->Update(changed).status());  // a conflict is retried
      }
    }

    WebsiteStatus status;
    status.set_ready_replicas(available);
    status.set_observed_generation(site.metadata().generation());
    status.set_phase(available == site.spec().replicas() ? "Ready" : "Pending");
    if (status.SerializeAsString() == site.status().SerializeAsString()) return {};
    *site.mutable_status() = status;
    return client_->UpdateStatus(site).status();
  }

 private:
  orch::client::Client* const client_;
  orch::client::EventRecorder* const events_;
  const orch::client::Lister<Website> sites_;
  const orch::client::Lister<v1::Deployment> deployments_;
};

}  // namespace

absl::Status RegisterWebsite(orch::api::Scheme& scheme) {
  orch::api::Kind kind;
  kind.group = "example.orch.dev";
  kind.version = "v1";
  kind.kind = "Website";
  kind.plural = "websites";
  kind.prototype = &Website::default_instance();
  kind.defaulter = [](google::protobuf::Message& m) {
    auto& site = static_cast<Website&>(m);
    if (!site.spec().has_replicas()) site.mutable_spec()->set_replicas(1);
  };
  kind.validator = [](const google::protobuf::Message& m) -> absl::Status {
    const auto& site = static_cast<const Website&>(m);
    if (site.spec().replicas() < 0) {
      return absl::InvalidArgumentError(fmt::format(
          "spec.replicas: Invalid value: {}: must be greater than or equal to 0",
          site.spec().replicas()));
    }
    if (site.spec().image().empty()) {
      return absl::InvalidArgumentError("spec.image: Required value");
    }
    return absl::OkStatus();
  };
  return scheme.Register(std::move(kind));
}

absl::StatusOr<controller::Controller*> AddWebsiteController(controller::Manager* manager) {
  ORCH_ASSIGN_OR_RETURN(auto sites, manager->informers()->InformerFor<Website>());
  ORCH_ASSIGN_OR_RETURN(auto deployments, manager->informers()->InformerFor<v1::Deployment>());
  auto reconciler = std::make_unique<WebsiteReconciler>(
      manager->client(), manager->EventRecorderFor("website-controller"), sites.lister(),
      deployments.lister());
  return controller::Builder<Website>(manager).Owns<v1::Deployment>().Complete(std::move(reconciler));
}

}  // namespace example

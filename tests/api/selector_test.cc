#include "orch/api/selector.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/status_matchers.h"

namespace orch::api {
namespace {

using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Labels = google::protobuf::Map<std::string, std::string>;
using Op = LabelSelector::Operator;

Labels MakeLabels(std::initializer_list<std::pair<const std::string, std::string>> pairs) {
  Labels labels;
  for (const auto& [k, v] : pairs) labels[k] = v;
  return labels;
}

LabelSelector MustParse(std::string_view text) {
  absl::StatusOr<LabelSelector> selector = LabelSelector::Parse(text);
  EXPECT_THAT(selector, IsOk()) << "text: " << text;
  return selector.ok() ? *selector : LabelSelector();
}

bool Selects(std::string_view text, const Labels& labels) {
  return MustParse(text).Matches(labels);
}

// ------------------------------------------------------------------ label selector parsing

TEST(LabelSelectorParseTest, AcceptsKubernetesSyntax) {
  for (std::string_view text : {
           "", "   ", "tier=web", "tier==web", "tier!=web", "tier = web , env == prod",
           "tier=", "tier= ", "tier=,env= ", "!canary", "canary", "!canary,tier",
           "replicas>1", "replicas<10,replicas>1", "env in (prod,staging)",
           "env notin (dev)", "env in ()", "env in (,)", "env in (a,,b)",
           "example.com/role=db", "a-b_c.d=e-f_g.h", "x in (in),y=notin",
           "\tenv\tin\t(a\t,\tb)\n"}) {
    EXPECT_THAT(LabelSelector::Parse(text), IsOk()) << "text: '" << text << "'";
  }
}

TEST(LabelSelectorParseTest, RejectsMalformedText) {
  for (std::string_view text : {
           "tier=web||env=prod", "tier==web==x", "!tier=web", "x<a", "x>1.5", "x>",
           "env in (a) b", "env in a", "env in (a", "env in (a b)", "env in ((a))",
           "tier=web,", ",tier=web", "tier=web,,env", "env notin", "=web", "!",
           "tier=web env=prod", "a/b/c=d", "/x=y", "Example.com/x=y", "-x=y",
           "x=-y", "x=y_", "tier=(web)", "x.y/ =z"}) {
    EXPECT_THAT(LabelSelector::Parse(text), StatusIs(absl::StatusCode::kInvalidArgument))
        << "text: '" << text << "'";
  }
}

TEST(LabelSelectorParseTest, ErrorMessagesFollowKubernetes) {
  EXPECT_THAT(LabelSelector::Parse("x=a,"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "found '', expected: identifier after ','"));
  EXPECT_THAT(LabelSelector::Parse("x=a y"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "found 'y', expected: ',' or 'end of string'"));
  EXPECT_THAT(LabelSelector::Parse("(x"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "found '(', expected: !, identifier, or 'end of string'"));
  EXPECT_THAT(LabelSelector::Parse("x ( y"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "unable to parse requirement: found '(', expected: in, notin, =, ==, "
                       "!=, gt, lt"));
  EXPECT_THAT(LabelSelector::Parse("x in y"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "unable to parse requirement: found 'y' expected: '('"));
  EXPECT_THAT(LabelSelector::Parse("x>one"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("for 'Gt', 'Lt' operators, the value must be an integer")));
  EXPECT_THAT(LabelSelector::Parse("a/b/c"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("key: Invalid value: \"a/b/c\": a qualified name must "
                                 "consist of alphanumeric characters")));
  EXPECT_THAT(LabelSelector::Parse("Upper.Case/x"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("prefix part a lowercase RFC 1123 subdomain")));
  EXPECT_THAT(LabelSelector::Parse(std::string(64, 'k')),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("name part must be no more than 63 characters")));
  EXPECT_THAT(LabelSelector::Parse("x=" + std::string(64, 'v')),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("values[0][x]: Invalid value")));
}

TEST(LabelSelectorParseTest, RequirementsAreSortedWithSortedUniqueValues) {
  LabelSelector s = MustParse("z in (c,a,b,a),!m,a==1,k>5");
  ASSERT_EQ(s.requirements().size(), 4u);
  EXPECT_EQ(s.requirements()[0].key, "a");
  EXPECT_EQ(s.requirements()[0].op, Op::kEquals);
  EXPECT_THAT(s.requirements()[0].values, ElementsAre("1"));
  EXPECT_EQ(s.requirements()[1].key, "k");
  EXPECT_EQ(s.requirements()[1].op, Op::kGt);
  EXPECT_EQ(s.requirements()[2].key, "m");
  EXPECT_EQ(s.requirements()[2].op, Op::kDoesNotExist);
  EXPECT_TRUE(s.requirements()[2].values.empty());
  EXPECT_EQ(s.requirements()[3].op, Op::kIn);
  EXPECT_THAT(s.requirements()[3].values, ElementsAre("a", "b", "c"));
}

TEST(LabelSelectorParseTest, EmptyEntriesInValueSetsAreTheEmptyString) {
  EXPECT_THAT(MustParse("x in ()").requirements()[0].values, ElementsAre(""));
  EXPECT_THAT(MustParse("x in (a,)").requirements()[0].values, ElementsAre("", "a"));
  EXPECT_THAT(MustParse("x in (,a)").requirements()[0].values, ElementsAre("", "a"));
  EXPECT_THAT(MustParse("x notin (a,,b)").requirements()[0].values, ElementsAre("", "a", "b"));
  EXPECT_THAT(MustParse("x=").requirements()[0].values, ElementsAre(""));
}

TEST(LabelSelectorParseTest, KeywordsAreValuesInValuePosition) {
  LabelSelector s = MustParse("x in (in,notin),y=in");
  EXPECT_THAT(s.requirements()[0].values, ElementsAre("in", "notin"));
  EXPECT_THAT(s.requirements()[1].values, ElementsAre("in"));
}

// ------------------------------------------------------------------ label matching

TEST(LabelSelectorMatchTest, EqualityAndInequality) {
  Labels web = MakeLabels({{"tier", "web"}, {"env", "prod"}});
  EXPECT_TRUE(Selects("tier=web", web));
  EXPECT_TRUE(Selects("tier==web,env=prod", web));
  EXPECT_FALSE(Selects("tier=db", web));
  EXPECT_FALSE(Selects("tier=web,env=dev", web));
  EXPECT_TRUE(Selects("tier!=db", web));
  EXPECT_FALSE(Selects("tier!=web", web));
}

TEST(LabelSelectorMatchTest, NegativeOperatorsMatchWhenTheKeyIsAbsent) {
  Labels none = MakeLabels({{"other", "x"}});
  EXPECT_TRUE(Selects("tier!=web", none));
  EXPECT_TRUE(Selects("tier notin (web,db)", none));
  EXPECT_TRUE(Selects("!tier", none));
  EXPECT_FALSE(Selects("tier", none));
  EXPECT_FALSE(Selects("tier in (web)", none));
  EXPECT_FALSE(Selects("tier=", none));  // "=" with the empty value still needs the key
}

TEST(LabelSelectorMatchTest, SetOperators) {
  Labels staging = MakeLabels({{"env", "staging"}});
  EXPECT_TRUE(Selects("env in (prod,staging)", staging));
  EXPECT_FALSE(Selects("env in (prod)", staging));
  EXPECT_FALSE(Selects("env notin (prod,staging)", staging));
  EXPECT_TRUE(Selects("env notin (prod)", staging));
  EXPECT_TRUE(Selects("env", staging));
  EXPECT_FALSE(Selects("!env", staging));
  EXPECT_TRUE(Selects("env in (,staging)", staging));
  EXPECT_TRUE(Selects("env in ()", MakeLabels({{"env", ""}})));
}

TEST(LabelSelectorMatchTest, GreaterAndLessCompareIntegers) {
  Labels ten = MakeLabels({{"replicas", "10"}});
  EXPECT_TRUE(Selects("replicas>9", ten));
  EXPECT_FALSE(Selects("replicas>10", ten));
  EXPECT_TRUE(Selects("replicas<11", ten));
  EXPECT_FALSE(Selects("replicas<2", ten));  // numeric, not lexicographic
  EXPECT_FALSE(Selects("replicas>1", MakeLabels({{"replicas", "many"}})));
  EXPECT_FALSE(Selects("replicas>1", MakeLabels({})));
}

TEST(LabelSelectorMatchTest, EmptySelectorMatchesEverything) {
  EXPECT_TRUE(LabelSelector().empty());
  EXPECT_TRUE(LabelSelector().Matches(MakeLabels({})));
  EXPECT_TRUE(MustParse("  ").empty());
  EXPECT_TRUE(MustParse("").Matches(MakeLabels({{"a", "b"}})));
}

// ------------------------------------------------------------------ canonical text

TEST(LabelSelectorToStringTest, IsCanonicalAndRoundTrips) {
  EXPECT_EQ(MustParse("b==2, a=1").ToString(), "a=1,b=2");
  EXPECT_EQ(MustParse("x in (c, a ,b)").ToString(), "x in (a,b,c)");
  EXPECT_EQ(MustParse("!x,y,z notin (q)").ToString(), "!x,y,z notin (q)");
  EXPECT_EQ(MustParse("n>3,m<4,o!=p").ToString(), "m<4,n>3,o!=p");
  EXPECT_EQ(MustParse("x in (a,)").ToString(), "x in (,a)");
  EXPECT_EQ(MustParse("x=").ToString(), "x=");
  for (std::string_view text :
       {"a=1,b!=2", "x in (,a)", "!x,y", "k>1,k<9", "e notin (a,b)", "x in ()", "p/q=r"}) {
    std::string canonical = MustParse(text).ToString();
    EXPECT_EQ(MustParse(canonical).ToString(), canonical) << "text: " << text;
    EXPECT_EQ(MustParse(canonical).requirements().size(),
              MustParse(text).requirements().size());
  }
}

// ------------------------------------------------------------------ FromProto, FromMap

v1::LabelSelectorRequirement Expression(std::string key, std::string op,
                                        std::vector<std::string> values) {
  v1::LabelSelectorRequirement r;
  r.set_key(std::move(key));
  r.set_operator_(std::move(op));
  for (std::string& v : values) r.add_values(std::move(v));
  return r;
}

TEST(LabelSelectorFromProtoTest, CombinesMatchLabelsAndExpressions) {
  v1::LabelSelector proto;
  (*proto.mutable_match_labels())["app"] = "web";
  *proto.add_match_expressions() = Expression("env", "In", {"prod", "staging"});
  *proto.add_match_expressions() = Expression("canary", "DoesNotExist", {});
  *proto.add_match_expressions() = Expression("tier", "NotIn", {"db"});
  *proto.add_match_expressions() = Expression("team", "Exists", {});
  ORCH_ASSERT_OK_AND_ASSIGN(LabelSelector s, LabelSelector::FromProto(proto));
  EXPECT_EQ(s.ToString(), "app=web,!canary,env in (prod,staging),team,tier notin (db)");
  EXPECT_TRUE(s.Matches(MakeLabels({{"app", "web"}, {"env", "prod"}, {"team", "a"}})));
  EXPECT_FALSE(s.Matches(MakeLabels({{"app", "web"}, {"env", "prod"}})));
  EXPECT_FALSE(
      s.Matches(MakeLabels({{"app", "web"}, {"env", "prod"}, {"team", "a"}, {"canary", "1"}})));
  EXPECT_FALSE(
      s.Matches(MakeLabels({{"app", "web"}, {"env", "prod"}, {"team", "a"}, {"tier", "db"}})));
}

TEST(LabelSelectorFromProtoTest, EmptyMessageMatchesEverything) {
  ORCH_ASSERT_OK_AND_ASSIGN(LabelSelector s, LabelSelector::FromProto(v1::LabelSelector()));
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(s.Matches(MakeLabels({{"a", "b"}})));
}

TEST(LabelSelectorFromProtoTest, EnforcesValueCountsPerOperator) {
  v1::LabelSelector in_without_values;
  *in_without_values.add_match_expressions() = Expression("env", "In", {});
  EXPECT_THAT(LabelSelector::FromProto(in_without_values),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "matchExpressions[0].values: Required value: must be specified when "
                       "`operator` is 'In' or 'NotIn'"));

  v1::LabelSelector exists_with_values;
  *exists_with_values.add_match_expressions() = Expression("env", "Exists", {});
  *exists_with_values.add_match_expressions() = Expression("env", "DoesNotExist", {"x"});
  EXPECT_THAT(LabelSelector::FromProto(exists_with_values),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "matchExpressions[1].values: Forbidden: may not be specified when "
                       "`operator` is 'Exists' or 'DoesNotExist'"));

  v1::LabelSelector unknown;
  *unknown.add_match_expressions() = Expression("env", "Gt", {"1"});
  EXPECT_THAT(LabelSelector::FromProto(unknown),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("matchExpressions[0].operator: Unsupported value: \"Gt\"")));
}

TEST(LabelSelectorFromProtoTest, ValidatesKeysAndValuesWithFieldPaths) {
  v1::LabelSelector proto;
  (*proto.mutable_match_labels())["bad key"] = "ok";
  *proto.add_match_expressions() = Expression("env", "In", {"ok", "not ok"});
  absl::StatusOr<LabelSelector> s = LabelSelector::FromProto(proto);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("matchLabels: Invalid value: \"bad key\"")));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("matchExpressions[0].values[1][env]: Invalid value: "
                                    "\"not ok\"")));
}

TEST(LabelSelectorFromMapTest, EveryPairMustMatch) {
  LabelSelector s = LabelSelector::FromMap(MakeLabels({{"b", "2"}, {"a", "1"}}));
  EXPECT_EQ(s.ToString(), "a=1,b=2");
  EXPECT_TRUE(s.Matches(MakeLabels({{"a", "1"}, {"b", "2"}, {"c", "3"}})));
  EXPECT_FALSE(s.Matches(MakeLabels({{"a", "1"}})));
  EXPECT_TRUE(LabelSelector::FromMap(MakeLabels({})).empty());
}

// ------------------------------------------------------------------ field selectors

FieldSelector MustParseFields(std::string_view text) {
  absl::StatusOr<FieldSelector> selector = FieldSelector::Parse(text);
  EXPECT_THAT(selector, IsOk()) << "text: " << text;
  return selector.ok() ? *selector : FieldSelector();
}

TEST(FieldSelectorParseTest, OperatorsAndCanonicalForm) {
  FieldSelector s = MustParseFields("metadata.name==web,metadata.namespace!=kube-system");
  ASSERT_EQ(s.requirements().size(), 2u);
  EXPECT_EQ(s.requirements()[0].path, "metadata.name");
  EXPECT_TRUE(s.requirements()[0].equals);
  EXPECT_EQ(s.requirements()[0].value, "web");
  EXPECT_EQ(s.requirements()[1].path, "metadata.namespace");
  EXPECT_FALSE(s.requirements()[1].equals);
  EXPECT_EQ(s.ToString(), "metadata.name=web,metadata.namespace!=kube-system");
  EXPECT_EQ(MustParseFields("b=2,a=1").ToString(), "a=1,b=2");
  EXPECT_EQ(MustParseFields("a=").requirements()[0].value, "");
  EXPECT_TRUE(MustParseFields("").empty());
  EXPECT_EQ(MustParseFields(",a=1,,").requirements().size(), 1u);
}

TEST(FieldSelectorParseTest, EscapesBackslashCommaAndEquals) {
  FieldSelector s = MustParseFields(R"(metadata.name=a\,b\=c\\d,kind=x)");
  ASSERT_EQ(s.requirements().size(), 2u);
  EXPECT_EQ(s.requirements()[1].path, "metadata.name");
  EXPECT_EQ(s.requirements()[1].value, R"(a,b=c\d)");
  EXPECT_EQ(s.ToString(), R"(kind=x,metadata.name=a\,b\=c\\d)");
  ORCH_ASSERT_OK_AND_ASSIGN(FieldSelector again, FieldSelector::Parse(s.ToString()));
  EXPECT_EQ(again.requirements()[1].value, R"(a,b=c\d)");
}

TEST(FieldSelectorParseTest, RejectsMalformedTerms) {
  EXPECT_THAT(FieldSelector::Parse("metadata.name"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "invalid selector: 'metadata.name'; can't understand 'metadata.name'"));
  EXPECT_THAT(FieldSelector::Parse("a=b=c"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unescaped character in value")));
  EXPECT_THAT(FieldSelector::Parse(R"(a=b\x)"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       R"(invalid field selector: invalid escape sequence: \x)"));
  EXPECT_THAT(FieldSelector::Parse(R"(a=b\)"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid escape sequence")));
}

v1::ObjectHeader Header(std::string name, std::string ns) {
  v1::ObjectHeader h;
  h.set_kind("Pod");
  h.mutable_metadata()->set_name(std::move(name));
  h.mutable_metadata()->set_namespace_(std::move(ns));
  return h;
}

TEST(FieldSelectorMatchTest, WalksJsonFieldPathsByReflection) {
  v1::ObjectHeader web = Header("web", "default");
  web.mutable_metadata()->set_generation(3);
  EXPECT_TRUE(MustParseFields("metadata.name=web").Matches(web));
  EXPECT_TRUE(MustParseFields("metadata.name=web,metadata.namespace=default").Matches(web));
  EXPECT_FALSE(MustParseFields("metadata.name=web,metadata.namespace=prod").Matches(web));
  EXPECT_TRUE(MustParseFields("metadata.namespace!=prod").Matches(web));
  EXPECT_FALSE(MustParseFields("metadata.name!=web").Matches(web));
  EXPECT_TRUE(MustParseFields("metadata.generation=3").Matches(web));
  EXPECT_TRUE(MustParseFields("metadata.resourceVersion=").Matches(web));  // unset: ""
  EXPECT_TRUE(MustParseFields("kind=Pod,apiVersion=").Matches(web));
}

TEST(FieldSelectorMatchTest, UnsetFieldsCompareAsTheirZeroValue) {
  v1::ObjectHeader empty;
  EXPECT_TRUE(MustParseFields("metadata.name=").Matches(empty));
  EXPECT_TRUE(MustParseFields("metadata.generation=0").Matches(empty));
  EXPECT_TRUE(MustParseFields("metadata.deletionGracePeriodSeconds=0").Matches(empty));
  v1::OwnerReference owner;
  EXPECT_TRUE(MustParseFields("controller=false").Matches(owner));
  owner.set_controller(true);
  EXPECT_TRUE(MustParseFields("controller=true").Matches(owner));
}

TEST(FieldSelectorValidateTest, OnlyScalarJsonPathsAreSupported) {
  const auto& descriptor = *v1::ObjectHeader::descriptor();
  EXPECT_THAT(MustParseFields("metadata.name=a,metadata.namespace=b").Validate(descriptor),
              IsOk());
  EXPECT_THAT(MustParseFields("metadata.generation=1").Validate(descriptor), IsOk());
  EXPECT_THAT(MustParseFields("spec.nodeName=n1").Validate(descriptor),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "field label not supported: spec.nodeName"));
  for (std::string_view text :
       {"metadata=x", "metadata.labels=x", "metadata.finalizers=x", "metadata.ownerReferences=x",
        "metadata.creationTimestamp=x", "metadata.resource_version=1", "metadata.name.x=y",
        "=x", "metadata.=x", "kind.x=y"}) {
    EXPECT_THAT(MustParseFields(text).Validate(descriptor),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("field label not supported")))
        << text;
  }
}

TEST(FieldSelectorMatchTest, UnvalidatedPathsMatchNothing) {
  EXPECT_FALSE(MustParseFields("spec.nodeName=").Matches(Header("a", "b")));
}

}  // namespace
}  // namespace orch::api

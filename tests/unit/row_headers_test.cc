#include "outbox/row_headers.h"

#include <gtest/gtest.h>

namespace outbox {
namespace {

std::optional<Rejection> Parse(const std::string& json, Headers* headers = nullptr) {
  Headers ignored;
  return ParseRowHeaders(json, headers ? headers : &ignored);
}

TEST(RowHeaders, AnObjectOfStringsBecomesHeaders) {
  Headers headers;
  EXPECT_FALSE(Parse(R"({"event-type": "OrderPlaced", "trace": ""})", &headers));
  EXPECT_EQ(headers, (Headers{{"event-type", "OrderPlaced"}, {"trace", ""}}));
}

TEST(RowHeaders, RefusesWhatIsNotAnObjectOfStrings) {
  for (const char* json : {"[1]", "5", "\"text\"", "null", R"({"a": {"b": "c"}})", R"({"a": 1})"}) {
    const std::optional<Rejection> rejection = Parse(json);
    ASSERT_TRUE(rejection) << json;
    EXPECT_EQ(rejection->reason, "invalid_headers") << json;
  }
}

TEST(RowHeaders, RefusesAnEmptyHeaderName) {
  const std::optional<Rejection> rejection = Parse(R"({"": "x"})");
  ASSERT_TRUE(rejection);
  EXPECT_EQ(rejection->reason, "invalid_headers");
  EXPECT_NE(rejection->detail.find("empty"), std::string::npos) << rejection->detail;
}

// A forged outbox-id would make consumers that read the last such header
// drop real messages as duplicates.
TEST(RowHeaders, RefusesTheRelaysOwnHeaderNamesInAnyCase) {
  for (const char* json : {R"({"outbox-id": "1"})", R"({"Outbox-Seq": "7"})",
                           R"({"ok": "1", "OUTBOX-anything": "x"})"}) {
    const std::optional<Rejection> rejection = Parse(json);
    ASSERT_TRUE(rejection) << json;
    EXPECT_EQ(rejection->reason, "reserved_header") << json;
  }
  EXPECT_FALSE(Parse(R"({"outbox": "x", "my-outbox-id": "y"})"));
}

TEST(RowHeaders, NamesAHugeHeaderNameOnlyInPart) {
  const std::string name(100000, 'n');
  const std::optional<Rejection> rejection = Parse("{\"" + name + "\": 1}");
  ASSERT_TRUE(rejection);
  EXPECT_LT(rejection->detail.size(), 300u);
}

}  // namespace
}  // namespace outbox

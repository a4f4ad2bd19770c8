#include "common/text.h"

#include <gtest/gtest.h>

namespace outbox {
namespace {

TEST(SafeText, KeepsShortValidTextAsItIs) {
  EXPECT_EQ(SafeText("order 981 \xc3\xa9\xe2\x82\xac", 100), "order 981 \xc3\xa9\xe2\x82\xac");
}

TEST(SafeText, ReplacesBytesThatAreNotUtf8) {
  EXPECT_EQ(SafeText("a\xff"
                     "b\xc3(\xed\xa0\x80",
                     100),
            "a\xef\xbf\xbd"
            "b\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(SafeText, CutsLongTextAtACharacterBoundaryAndSaysHowLongItWas) {
  const std::string key = "\xc3\xa9" + std::string(100000, 'k');
  EXPECT_EQ(Abbreviated(key), "\xc3\xa9" + std::string(78, 'k') + "...(100002 bytes)");
  EXPECT_EQ(SafeText("\xe2\x82\xac\xe2\x82\xac", 4), "\xe2\x82\xac...(6 bytes)");
}

}  // namespace
}  // namespace outbox

#include <gtest/gtest.h>

#include "text.h"

namespace outbox::inbox {
namespace {

TEST(InboxText, StorableTextIsUtf8WithoutNul) {
  EXPECT_TRUE(IsStorableText(""));
  EXPECT_TRUE(IsStorableText("plain"));
  EXPECT_TRUE(IsStorableText("Grüße, 東京, 🎉"));
  EXPECT_FALSE(IsStorableText(std::string("a\0b", 3)));
  EXPECT_FALSE(IsStorableText("\xff"));
  EXPECT_FALSE(IsStorableText("\xc3"));              // cut short
  EXPECT_FALSE(IsStorableText("\xc0\xaf"));          // overlong
  EXPECT_FALSE(IsStorableText("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(IsStorableText("\xf4\x90\x80\x80"));  // above U+10FFFF
}

TEST(InboxText, PrintableEscapesWhatAHumanCannotReadAndCuts) {
  EXPECT_EQ(Printable("ok \"q\" \\ ü"), "ok \\x22q\\x22 \\x5c ü");
  EXPECT_EQ(Printable(std::string("a\0\n\xff", 4)), "a\\x00\\x0a\\xff");
  EXPECT_EQ(Printable(std::string(100, 'x'), 10), std::string(10, 'x') + "...");
}

TEST(InboxText, HexRoundTripsEveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  EXPECT_EQ(FromHex(ToHex(all)), all);
  EXPECT_EQ(ToHex("\x01\xab"), "01ab");
  EXPECT_THROW(FromHex("abc"), std::invalid_argument);
  EXPECT_THROW(FromHex("zz"), std::invalid_argument);
}

}  // namespace
}  // namespace outbox::inbox

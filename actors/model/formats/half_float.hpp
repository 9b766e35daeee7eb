// IEEE half (f16) and bfloat16 conversions for GGUF and safetensors tensors, in integer arithmetic
// so that the result does not depend on the compiler's floating-point mode: float -> half rounds to
// nearest, ties to even (as ggml's converter and numpy do), with subnormals, infinities and NaN
// kept; half -> float and bf16 -> float are exact.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace llmos::model {

/// The f16 bits nearest to `f` (ties to even); overflow gives infinity, NaN a quiet NaN.
inline uint16_t f32_to_f16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u)
    return sign | 0x7e00u;
  // 65520 and above round to 2^16, which f16 cannot hold (65504 is its largest finite value).
  if (abs >= 0x477ff000u)
    return sign | 0x7c00u;
  const uint32_t exp = abs >> 23;
  uint32_t mant = abs & 0x7fffffu;
  uint32_t shift = 13; // drops float's 23 mantissa bits to half's 10
  uint32_t head = 0;   // the exponent field of the result, already in place
  if (exp < 113) {
    // Below half's smallest normal 2^-14: a subnormal counts units of 2^-24, so the implicit
    // leading one joins the mantissa and the shift grows with the distance below 2^-14.
    if (exp < 102) // below 2^-25: rounds to zero
      return sign;
    mant |= 0x800000u;
    shift = 126 - exp;
  } else {
    head = (exp - 112) << 10;
  }
  uint32_t h = head | (mant >> shift);
  const uint32_t rest = mant & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  // A carry out of the mantissa lands in the exponent, which is the right next value.
  if (rest > half || (rest == half && (h & 1u)))
    ++h;
  return static_cast<uint16_t>(sign | h);
}

/// The float value of f16 bits `h` (exact).
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31)
    return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

/// The bf16 bits nearest to `f` (ties to even); NaN stays a quiet NaN.
inline uint16_t f32_to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((x >> 16) | 0x40u);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

/// The float value of bf16 bits `b`: they are a float's top 16 bits.
inline float bf16_to_f32(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

} // namespace llmos::model

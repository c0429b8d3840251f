# Run by the build on each generated orch/api .pb.cc (cmake -DFILE=... -P this file).
#
# protoc's serializers for proto3 `string` fields check each string for UTF-8 on the way
# out, and only log when it is not: the bytes are written all the same (and no parser
# reads them back). orch's Client refuses such an object before anything is written,
# naming the field (src/client/string_check.h), so the serializer's check finds nothing
# left to find; it cost about 6% of the scheduler's instructions per bound pod. This
# turns those calls into an empty inline function. The parsers' checks are left alone: they are
# what refuses bad bytes read from outside.
file(READ "${FILE}" text)
string(REPLACE "::PROTOBUF_NAMESPACE_ID::internal::WireFormatLite::VerifyUtf8String("
               "OrchUtf8CheckedBeforeWrite(" text "${text}")
set(stub [=[
// orch: see cmake/SkipSerializerUtf8Check.cmake.
template <typename... Args>
static inline void OrchUtf8CheckedBeforeWrite(const Args&...) {}
]=])
file(WRITE "${FILE}" "${stub}${text}")

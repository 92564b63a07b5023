//===- Npz.cpp - numpy .npz archives --------------------------------------===//
//
// A zip reader restricted to what numpy writes: stored or deflated members,
// optionally with zip64 extensions (numpy forces them on every member). All
// reads go through bounds-checked accessors, so a truncated or hostile archive
// yields an error, never an out-of-bounds access or a huge allocation.
//
//===----------------------------------------------------------------------===//

#include "quantx/Runtime/Npz.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace quantx {

namespace {

/// Bounds-checked little-endian reads from a byte range.
class Reader {
public:
  Reader(const uint8_t *bytes, size_t size) : bytes(bytes), size(size) {}
  bool has(uint64_t offset, uint64_t count) const {
    return offset <= size && count <= size - offset;
  }
  uint64_t get(uint64_t offset, unsigned width) const {
    uint64_t v = 0;
    for (unsigned i = 0; i < width; ++i)
      v |= uint64_t(bytes[offset + i]) << (8 * i);
    return v;
  }
  const uint8_t *at(uint64_t offset) const { return bytes + offset; }
  size_t length() const { return size; }

private:
  const uint8_t *bytes;
  size_t size;
};

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50,
                   kEndSig = 0x06054b50, kEnd64Sig = 0x06064b50,
                   kLocator64Sig = 0x07064b50;
/// Deflate cannot compress better than about 1032:1.
constexpr uint64_t kMaxDeflateRatio = 1032;

bool inflateRaw(const uint8_t *in, uint64_t inSize, uint8_t *out,
                uint64_t outSize, std::string &error) {
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
    error = "cannot initialise zlib";
    return false;
  }
  uint64_t inLeft = inSize, outLeft = outSize;
  zs.next_in = const_cast<Bytef *>(in);
  zs.next_out = out;
  int rc;
  while (true) {
    if (zs.avail_in == 0 && inLeft) {
      zs.avail_in = uInt(std::min<uint64_t>(inLeft, 1u << 30));
      inLeft -= zs.avail_in;
    }
    if (zs.avail_out == 0 && outLeft) {
      zs.avail_out = uInt(std::min<uint64_t>(outLeft, 1u << 30));
      outLeft -= zs.avail_out;
    }
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_STREAM_END)
      break;
    if (rc == Z_OK)
      continue;
    // No progress: fine only if a refill is still possible.
    if (rc == Z_BUF_ERROR &&
        ((zs.avail_in == 0 && inLeft) || (zs.avail_out == 0 && outLeft)))
      continue;
    break;
  }
  uint64_t produced = outSize - outLeft - zs.avail_out;
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    error = rc == Z_DATA_ERROR ? "corrupt deflate data"
                               : "truncated or oversized deflate data";
    return false;
  }
  if (produced != outSize) {
    error = "deflated member is shorter than its recorded size";
    return false;
  }
  return true;
}

/// `name` fit for a message: printable ASCII, others as \xNN, at most 80
/// characters.
std::string printable(const std::string &name) {
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : name) {
    if (out.size() >= 80) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f) {
      out += char(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

uint32_t crc32Of(const uint8_t *data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (size) {
    uInt chunk = uInt(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, data, chunk);
    data += chunk;
    size -= chunk;
  }
  return uint32_t(crc);
}

} // namespace

bool parseNpz(const uint8_t *bytes, size_t size, std::vector<NpzEntry> &out,
              std::string &error) {
  out.clear();
  Reader r(bytes, size);
  if (size < 4 || (r.get(0, 4) != kLocalSig && r.get(0, 4) != kEndSig)) {
    error = "not a .npz file (no zip signature)";
    return false;
  }
  // The end-of-central-directory record: 22 bytes plus a comment of up to
  // 65535 bytes at the end of the file.
  if (size < 22) {
    error = "truncated .npz file (no end of central directory)";
    return false;
  }
  uint64_t end = std::numeric_limits<uint64_t>::max();
  uint64_t lowest = size - 22 > 65535 ? size - 22 - 65535 : 0;
  for (uint64_t pos = size - 22 + 1; pos-- > lowest;)
    if (r.get(pos, 4) == kEndSig && pos + 22 + r.get(pos + 20, 2) == size) {
      end = pos;
      break;
    }
  if (end == std::numeric_limits<uint64_t>::max()) {
    error = "truncated .npz file (no end of central directory)";
    return false;
  }
  if (r.get(end + 4, 2) != 0 || r.get(end + 6, 2) != 0) {
    error = "multi-disk zip archives are not supported";
    return false;
  }
  uint64_t count = r.get(end + 10, 2), dirSize = r.get(end + 12, 4),
           dirOffset = r.get(end + 16, 4);
  if (count == 0xffff || dirSize == 0xffffffff || dirOffset == 0xffffffff) {
    // Zip64: a locator right before the record points at the zip64 record.
    if (end < 20 || r.get(end - 20, 4) != kLocator64Sig) {
      error = "malformed zip64 archive (no locator)";
      return false;
    }
    uint64_t rec = r.get(end - 20 + 8, 8);
    if (!r.has(rec, 56) || r.get(rec, 4) != kEnd64Sig) {
      error = "malformed zip64 archive (bad end of central directory)";
      return false;
    }
    count = r.get(rec + 32, 8);
    dirSize = r.get(rec + 40, 8);
    dirOffset = r.get(rec + 48, 8);
  }
  if (!r.has(dirOffset, dirSize)) {
    error = "truncated .npz file (central directory out of bounds)";
    return false;
  }
  // Each central entry takes at least 46 bytes: bounds the count.
  if (count > dirSize / 46) {
    error = "malformed .npz file (too many entries for its directory)";
    return false;
  }
  uint64_t pos = dirOffset, dirEnd = dirOffset + dirSize;
  for (uint64_t k = 0; k < count; ++k) {
    if (pos + 46 > dirEnd || r.get(pos, 4) != kCentralSig) {
      error = "malformed .npz central directory";
      return false;
    }
    uint64_t flags = r.get(pos + 8, 2), method = r.get(pos + 10, 2),
             crc = r.get(pos + 16, 4), csize = r.get(pos + 20, 4),
             usize = r.get(pos + 24, 4), nameLen = r.get(pos + 28, 2),
             extraLen = r.get(pos + 30, 2), commentLen = r.get(pos + 32, 2),
             local = r.get(pos + 42, 4);
    uint64_t next = pos + 46 + nameLen + extraLen + commentLen;
    if (next > dirEnd) {
      error = "malformed .npz central directory";
      return false;
    }
    std::string rawName(reinterpret_cast<const char *>(r.at(pos + 46)),
                        nameLen);
    std::string name = printable(rawName);
    // Zip64 extra field: the 64-bit values of the saturated 32-bit ones.
    for (uint64_t e = pos + 46 + nameLen, eEnd = e + extraLen; e + 4 <= eEnd;) {
      uint64_t id = r.get(e, 2), len = r.get(e + 2, 2);
      if (e + 4 + len > eEnd)
        break;
      if (id == 1) {
        uint64_t f = e + 4, fEnd = f + len;
        auto take = [&](uint64_t &v) {
          if (v != 0xffffffff)
            return true;
          if (f + 8 > fEnd)
            return false;
          v = r.get(f, 8);
          f += 8;
          return true;
        };
        if (!take(usize) || !take(csize) || !take(local)) {
          error = "malformed zip64 extra field of '" + name + "'";
          return false;
        }
      }
      e += 4 + len;
    }
    pos = next;
    if (flags & 1) {
      error = "member '" + name + "': encrypted members are not supported";
      return false;
    }
    if (method != 0 && method != 8) {
      error = "member '" + name + "': compression method " +
              std::to_string(method) +
              " is not supported (only stored and deflate)";
      return false;
    }
    if (name != rawName || name.size() < 5 ||
        name.compare(name.size() - 4, 4, ".npy") != 0) {
      error = "member '" + name + "' is not a .npy file";
      return false;
    }
    if (!r.has(local, 30) || r.get(local, 4) != kLocalSig) {
      error = "member '" + name + "': bad local header";
      return false;
    }
    uint64_t data = local + 30 + r.get(local + 26, 2) + r.get(local + 28, 2);
    if (!r.has(data, csize)) {
      error = "member '" + name + "': truncated data";
      return false;
    }
    const uint8_t *payload = r.at(data);
    std::vector<uint8_t> inflated;
    if (method == 8) {
      if (usize / kMaxDeflateRatio > csize + 1) {
        error = "member '" + name + "': implausible uncompressed size";
        return false;
      }
      inflated.resize(usize);
      std::string why;
      if (!inflateRaw(payload, csize, inflated.data(), usize, why)) {
        error = "member '" + name + "': " + why;
        return false;
      }
      payload = inflated.data();
    } else if (usize != csize) {
      error = "member '" + name + "': stored sizes disagree";
      return false;
    }
    if (crc32Of(payload, usize) != crc) {
      error = "member '" + name + "': CRC-32 mismatch";
      return false;
    }
    NpzEntry entry;
    entry.name = name.substr(0, name.size() - 4);
    std::string why;
    if (!parseNpy(payload, usize, entry.array, why)) {
      error = "member '" + name + "': " + why;
      return false;
    }
    for (const NpzEntry &seen : out)
      if (seen.name == entry.name) {
        error = "member '" + name + "' appears twice";
        return false;
      }
    out.push_back(std::move(entry));
  }
  return true;
}

bool readNpz(const std::string &path, std::vector<NpzEntry> &out,
             std::string &error) {
  std::vector<uint8_t> bytes;
  if (!readFileBytes(path, bytes, error))
    return false;
  if (!parseNpz(bytes.data(), bytes.size(), out, error)) {
    error = path + ": " + error;
    return false;
  }
  return true;
}

namespace {
void put(std::vector<uint8_t> &out, uint64_t v, unsigned width) {
  for (unsigned i = 0; i < width; ++i)
    out.push_back(uint8_t(v >> (8 * i)));
}
} // namespace

bool writeNpz(const std::string &path, const std::vector<NpzEntry> &entries,
              std::string &error) {
  std::vector<uint8_t> file, directory;
  for (const NpzEntry &entry : entries) {
    std::vector<uint8_t> npy;
    if (!serializeNpy(entry.array, npy, error))
      return false;
    std::string name = entry.name + ".npy";
    if (npy.size() >= 0xffffffffu || file.size() >= 0xffffffffu ||
        name.size() > 0xffff) {
      error = "'" + path + "': member too large for a zip archive";
      return false;
    }
    uint32_t crc = crc32Of(npy.data(), npy.size());
    uint64_t offset = file.size();
    // Local header: version 2.0, no flags, stored, DOS date 1980-01-01.
    put(file, kLocalSig, 4);
    put(file, 20, 2);
    put(file, 0, 2);
    put(file, 0, 2);
    put(file, 0, 2);
    put(file, 0x21, 2);
    put(file, crc, 4);
    put(file, npy.size(), 4);
    put(file, npy.size(), 4);
    put(file, name.size(), 2);
    put(file, 0, 2);
    file.insert(file.end(), name.begin(), name.end());
    file.insert(file.end(), npy.begin(), npy.end());
    put(directory, kCentralSig, 4);
    put(directory, 20, 2);
    put(directory, 20, 2);
    put(directory, 0, 2);
    put(directory, 0, 2);
    put(directory, 0, 2);
    put(directory, 0x21, 2);
    put(directory, crc, 4);
    put(directory, npy.size(), 4);
    put(directory, npy.size(), 4);
    put(directory, name.size(), 2);
    put(directory, 0, 2);
    put(directory, 0, 2);
    put(directory, 0, 2);
    put(directory, 0, 2);
    put(directory, 0, 4);
    put(directory, offset, 4);
    directory.insert(directory.end(), name.begin(), name.end());
  }
  if (entries.size() >= 0xffff || file.size() >= 0xffffffffu ||
      directory.size() >= 0xffffffffu) {
    error = "'" + path + "': too large for a zip archive without zip64";
    return false;
  }
  uint64_t dirOffset = file.size();
  file.insert(file.end(), directory.begin(), directory.end());
  put(file, kEndSig, 4);
  put(file, 0, 2);
  put(file, 0, 2);
  put(file, entries.size(), 2);
  put(file, entries.size(), 2);
  put(file, directory.size(), 4);
  put(file, dirOffset, 4);
  put(file, 0, 2);
  return writeFileAtomically(path, file.data(), file.size(), error);
}

} // namespace quantx

# Turns data/models/*.json (and partial/*.json) into a C source with one
# byte array per file, so the built-in models are read by the same
# config.json reader as users' files. Run by the build (see CMakeLists.txt):
#   cmake -DMODELS_DIR=... -DALIASES=... -DOUT=... -P embed_models.cmake
file(GLOB full RELATIVE ${MODELS_DIR} ${MODELS_DIR}/*.json)
file(GLOB partial RELATIVE ${MODELS_DIR} ${MODELS_DIR}/partial/*.json)
list(SORT full)
list(SORT partial)

set(src "/* Generated from data/models by cmake/embed_models.cmake. */\n")
string(APPEND src "#include \"models_data.h\"\n\n")
set(table "")
set(seen "")
set(i 0)
foreach(rel IN LISTS full partial)
  get_filename_component(base ${rel} NAME_WLE)
  # org__name.json -> org/name; a full config wins over a partial one.
  string(REPLACE "__" "/" id ${base})
  list(FIND seen ${id} dup)
  if(NOT dup EQUAL -1)
    continue()
  endif()
  list(APPEND seen ${id})
  file(READ ${MODELS_DIR}/${rel} hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR nbytes "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND src "static const unsigned char model_${i}[] = {${bytes}};\n")
  string(APPEND table "\t{\"${id}\", \"${rel}\", model_${i}, ${nbytes}},\n")
  math(EXPR i "${i} + 1")
endforeach()

string(APPEND src "\nconst vf_builtin_entry vf_builtin_models[] = {\n${table}};\n")
string(APPEND src "const size_t vf_builtin_models_len = ${i};\n\n")

# Aliases: "alias<TAB>target" lines; '#' starts a comment.
file(STRINGS ${ALIASES} lines)
set(atable "")
set(n 0)
foreach(line IN LISTS lines)
  if(line MATCHES "^#" OR line STREQUAL "")
    continue()
  endif()
  string(REGEX MATCH "^([^\t ]+)[\t ]+([^\t ]+)" m "${line}")
  string(APPEND atable "\t{\"${CMAKE_MATCH_1}\", \"${CMAKE_MATCH_2}\"},\n")
  math(EXPR n "${n} + 1")
endforeach()
string(APPEND src "const vf_builtin_alias vf_builtin_aliases[] = {\n${atable}\t{0, 0}\n};\n")
string(APPEND src "const size_t vf_builtin_aliases_len = ${n};\n")

file(WRITE ${OUT}.tmp "${src}")
file(RENAME ${OUT}.tmp ${OUT})

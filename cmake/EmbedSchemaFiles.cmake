# embed_schema_files(DIR OUT_VAR): the numbered DIR/*.sql files (in version
# order) as C++ initialisers {version, "name", R"(sql)"}, for a
# configure_file() template, so that the binaries need no files at run time.
# NAME_PREFIX is put before each file's name (e.g. "options/").
function(embed_schema_files dir name_prefix out_var)
  file(GLOB files CONFIGURE_DEPENDS ${dir}/*.sql)
  list(SORT files)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${files})
  set(entries "")
  foreach(schema_file ${files})
    get_filename_component(schema_name ${schema_file} NAME)
    string(REGEX MATCH "^[0-9]+" schema_version ${schema_name})
    if(NOT schema_version)
      message(FATAL_ERROR "${schema_file}: name must start with its version number")
    endif()
    math(EXPR schema_version "${schema_version} + 0")
    file(READ ${schema_file} schema_sql)
    string(APPEND entries
      "    {${schema_version}, \"${name_prefix}${schema_name}\", R\"outbox_sql(${schema_sql})outbox_sql\"},\n")
  endforeach()
  set(${out_var} "${entries}" PARENT_SCOPE)
endfunction()

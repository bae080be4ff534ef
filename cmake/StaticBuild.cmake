# A secret-agent with no dynamic dependency (SFS_STATIC), for images without Debian's shared
# libraries (scratch, distroless, Alpine). Included before the dependencies are looked up.
#
# - Every pkg-config and OpenSSL lookup resolves to the static archive (.a) and takes the
#   library's private dependencies too (pkg-config --static).
# - Executables link with -static-pie when hardening is on (the binary keeps ASLR), -static
#   otherwise; objects get one section per function and data item and the link drops the
#   unreferenced ones.
# - libmicrohttpd (SFS_STATIC_MHD): Debian's archive is built with HTTPS through GnuTLS and
#   p11-kit, which ship no static archive, so scripts/static-deps.sh rebuilds it from Debian's
#   source package without HTTPS into /var/cache/secret-agent-build/; its pkg-config file is
#   put first in PKG_CONFIG_PATH, so a plain pkg_check_modules(... libmicrohttpd) anywhere in
#   the tree finds that copy. SFS_MHD_PREFIX names an already built prefix instead.
#
# glibc stays, linked statically. Users and groups are read from /etc/passwd and /etc/group by
# the agent itself (IDENTITY_FILES_ONLY, see agent/proc/identity.c): a static glibc would
# dlopen() any NSS module the image's nsswitch.conf names besides `files`. Host names for the
# preflight go through getaddrinfo and glibc's built-in `files` and `dns` services
# (/etc/hosts, /etc/resolv.conf). The linker's warnings that getaddrinfo and OpenSSL's unused
# dlopen/gethostbyname "require at runtime the shared libraries" are about modules other than
# those; tests/static runs the binary in an empty root to keep that true.

option(SFS_STATIC_MHD "Static build: link libmicrohttpd rebuilt without HTTPS" ON)
option(SFS_STATIC_STRIP "Static build: strip the agent's symbols at link time (size of the image)" ON)
# static-pie keeps the binary's own ASLR and costs, measured on one machine, about 0.4 ms at
# every start (the self-relocation of ~18000 relative relocations, and ~95 more page faults
# copying .data.rel.ro): OFF trades that ASLR for the time. Only with SFS_HARDENING.
option(SFS_STATIC_PIE "Static build: link static-pie (ASLR of the binary) rather than -static" ON)
set(SFS_MHD_PREFIX "" CACHE PATH
  "Static build: prefix of a libmicrohttpd built by scripts/static-deps.sh (empty: build or reuse the cached one)")

set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
set(OPENSSL_USE_STATIC_LIBS TRUE)
set(PKG_CONFIG_ARGN --static CACHE STRING "Arguments to supply to pkg-config" FORCE)

if(SFS_STATIC_MHD)
  set(_sfs_mhd_prefix ${SFS_MHD_PREFIX})
  if(NOT _sfs_mhd_prefix)
    # Cheap when the cached copy exists; the script's key follows its flags.
    execute_process(
      COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/static-deps.sh libmicrohttpd
      OUTPUT_VARIABLE _sfs_mhd_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE _sfs_mhd_result)
    if(NOT _sfs_mhd_result EQUAL 0)
      message(FATAL_ERROR "scripts/static-deps.sh libmicrohttpd failed (${_sfs_mhd_result})")
    endif()
  endif()
  if(NOT EXISTS ${_sfs_mhd_prefix}/lib/pkgconfig/libmicrohttpd.pc)
    message(FATAL_ERROR "no static libmicrohttpd under ${_sfs_mhd_prefix}")
  endif()
  set(ENV{PKG_CONFIG_PATH} "${_sfs_mhd_prefix}/lib/pkgconfig:$ENV{PKG_CONFIG_PATH}")
  message(STATUS "static build: libmicrohttpd from ${_sfs_mhd_prefix}")
endif()

# Section garbage collection for every target of the static build; called once
# sfs_build_flags exists.
function(sfs_static_build_flags target)
  target_compile_options(${target} INTERFACE -ffunction-sections -fdata-sections)
  target_link_options(${target} INTERFACE -Wl,--gc-sections)
endfunction()

# Links one executable without any shared object. Only programs meant to run in an empty root
# take it (the agent, the stand-ins tests/static runs there): the cmocka unit tests stay
# dynamic executables, as Debian ships no static cmocka, linked with the same static archives.
include(CheckLinkerFlag)
check_linker_flag(C "-Wl,-z,pack-relative-relocs" SFS_HAVE_RELR)

function(sfs_link_fully_static target)
  if(SFS_HARDENING AND SFS_STATIC_PIE)
    # -static-pie keeps the binary's own ASLR. The -pie CMake appends for a PIE target would
    # win over it (a dynamic executable again), so the property is unset and the compile
    # flag given by hand.
    set_property(TARGET ${target} PROPERTY POSITION_INDEPENDENT_CODE)
    target_compile_options(${target} PRIVATE -fPIE)
    target_link_options(${target} PRIVATE -static-pie)
    # Relative relocations as a bitmap (DT_RELR, glibc >= 2.36): 430 KB less to store and
    # read, the same start-up time.
    if(SFS_HAVE_RELR)
      target_link_options(${target} PRIVATE -Wl,-z,pack-relative-relocs)
    endif()
  elseif(SFS_HARDENING)
    set_property(TARGET ${target} PROPERTY POSITION_INDEPENDENT_CODE)
    target_link_options(${target} PRIVATE -static -no-pie)
  else()
    target_link_options(${target} PRIVATE -static)
  endif()
endfunction()

# The agent itself: fully static, stripped unless asked otherwise, size printed.
function(sfs_static_agent target)
  sfs_link_fully_static(${target})
  if(SFS_STATIC_STRIP)
    target_link_options(${target} PRIVATE -s)
  endif()
  sfs_print_size(${target})
  sfs_image_context(${target})
endfunction()

# The agent's size at every build (the image carries nothing else).
function(sfs_print_size target)
  add_custom_target(${target}-size ALL VERBATIM
    COMMAND ${CMAKE_COMMAND} -DFILE=$<TARGET_FILE:${target}>
      -P ${PROJECT_SOURCE_DIR}/cmake/PrintSize.cmake)
  add_dependencies(${target}-size ${target})
endfunction()

# The build context of packaging/docker/secret-agent/Dockerfile, refreshed at every build:
# ${CMAKE_BINARY_DIR}/image/{secret-agent,LICENSES}.
function(sfs_image_context target)
  add_custom_target(${target}-image-context ALL VERBATIM
    COMMAND ${PROJECT_SOURCE_DIR}/packaging/docker/secret-agent/image-context.sh
      ${CMAKE_BINARY_DIR} ${CMAKE_BINARY_DIR}/image)
  add_dependencies(${target}-image-context ${target})
endfunction()

# What `cmake --install` puts where, and the Debian package (cpack -G DEB).
# With the prefix /usr (the package's) the config lands where the relay looks
# by default, /etc/outbox-relay/config.yaml.

set(OUTBOX_CONFIG_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/outbox-relay)

# The example config, every key with its default. A conffile in the package:
# an upgrade keeps the operator's edits.
install(FILES deploy/outbox-relay.example.yaml
        DESTINATION ${OUTBOX_CONFIG_DIR} RENAME config.yaml)

# The systemd unit, pointed at the installed binary and config.
file(READ ${PROJECT_SOURCE_DIR}/deploy/systemd/outbox-relay.service unit)
string(REPLACE "/usr/local/bin/outbox-relay" "${CMAKE_INSTALL_FULL_BINDIR}/outbox-relay" unit "${unit}")
string(REPLACE "/etc/outbox-relay/" "${OUTBOX_CONFIG_DIR}/" unit "${unit}")
file(WRITE ${CMAKE_BINARY_DIR}/packaging/outbox-relay.service "${unit}")
install(FILES ${CMAKE_BINARY_DIR}/packaging/outbox-relay.service
        DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)

# schema/ for those who apply it with psql or their own migration tool
# (`outbox-relay migrate` carries the same files inside the binary).
install(DIRECTORY schema/ DESTINATION ${CMAKE_INSTALL_DATADIR}/outbox-relay/schema
        FILES_MATCHING PATTERN "*.sql" PATTERN "inbox" EXCLUDE)
install(FILES README.md LICENSE CHANGELOG.md docs/runbooks.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_PACKAGE_NAME outbox-relay)
set(CPACK_PACKAGE_VENDOR "outbox-relay")
set(CPACK_PACKAGE_CONTACT "outbox-relay maintainers <outbox-relay@users.noreply.github.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_HOMEPAGE_URL "https://github.com/outbox-relay/outbox-relay")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# Bookworm's runtime libraries, the same list as deploy/Dockerfile's runtime
# stage (deploy_checks derives both from what the binary links).
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libpqxx-6.4, libpq5, librdkafka1, libyaml-cpp0.7, libprometheus-cpp-core1.0")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/packaging/conffiles)
include(CPack)

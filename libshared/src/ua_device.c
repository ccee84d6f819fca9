/*
 * The device type of a User-Agent: desktop, mobile, tablet, bot or other. uap-core gives a
 * device family/brand/model and an OS, not a type, so this is our rule, first match wins:
 *
 *  1. bot     an empty or blank User-Agent, one of our markers (ua_bots.c), or uap-core's
 *             device family "Spider".
 *  2. other   televisions, consoles, watches, set-top boxes: a marker below (SmartTV,
 *             HbbTV, CrKey, Xbox, PlayStation, Nintendo, Roku, Fire TV's "; AFT" models,
 *             ...), the OS tvOS, watchOS,
 *             Chromecast or Roku, or uap-core's brand "Generic_Inettv".
 *  3. tablet  device family or model starting "iPad", "Kindle", or naming a tablet
 *             ("Generic Tablet", brand "Generic_Android_Tablet", "...Tablet...",
 *             "TouchPad", "Playbook", "Surface RT"); or "Tablet" in the User-Agent (Firefox
 *             on Android tablets, Opera Tablet; not the "Tablet PC" of old Windows UAs); or
 *             a browser ("Mozilla/...") on Android without "Mobi" in the User-Agent (Chrome
 *             and most Android browsers put "Mobile" on phones only, as Google documents;
 *             apps' HTTP clients such as "Dalvik/2.1.0 (Linux; U; Android 11)" say nothing
 *             either way and count as mobile below).
 *  4. mobile  device family starting "iPhone" or "iPod", "Generic Smartphone", "Generic
 *             Feature Phone", brand "Generic_Android"; a mobile OS (iOS, Android, Windows
 *             Phone/Mobile, BlackBerry OS, KaiOS, Symbian, Firefox OS, Sailfish, Tizen,
 *             MeeGo, Maemo, Bada, BREW, Nokia Series 30/40); or "Mobi" in the User-Agent
 *             (Mozilla's advice for telling a phone).
 *  5. desktop a desktop OS: Windows, Mac OS X, Chrome OS, Linux and its distributions,
 *             the BSDs, Solaris.
 *  6. other   everything else (unknown apps, feature-less libraries, ...).
 *
 * Known limit: iPadOS 13+ Safari sends a Mac User-Agent by default; it is "desktop".
 */
#define _GNU_SOURCE            /* memmem */
#include <string.h>

#include "ua_internal.h"

static bool starts(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool in_list(const char *s, const char *const *list) {
        for (; *list; list++)
                if (strcmp(s, *list) == 0)
                        return true;
        return false;
}

/* lower-case markers of television, console, watch and set-top User-Agents */
static const char *const other_markers[] = {
        "smart-tv", "smarttv", "smart tv", "hbbtv", "googletv", "android tv", "crkey",
        "xbox", "playstation", "nintendo", "roku", "web0s", "netcast", "appletv", "tizen tv",
        "; aft",        /* Amazon Fire TV models: AFTMM, AFTS, AFTT, ... */
        NULL,
};
static const char *const other_os[] = {
        "tvOS", "WatchOS", "Chromecast", "Roku", "FireHbbTV", NULL,
};
static const char *const mobile_os[] = {
        "iOS", "Android", "Windows Phone", "Windows Mobile", "BlackBerry OS", "KaiOS",
        "Symbian OS", "Symbian^3", "Symbian^3 Anna", "Symbian^3 Belle", "Firefox OS",
        "Sailfish", "Tizen", "MeeGo", "Maemo", "Bada", "BREW", "Brew MP",
        "Nokia Series 30 Plus", "Nokia Series 40", NULL,
};
static const char *const desktop_os[] = {
        "Windows", "Mac OS X", "Mac OS", "Chrome OS", "Linux", "Ubuntu", "Kubuntu",
        "Lubuntu", "Linux Mint", "Debian", "Fedora", "Red Hat", "CentOS", "SUSE",
        "openSUSE", "Gentoo", "Arch Linux", "Slackware", "Mandriva", "Mageia", "PCLinuxOS",
        "Puppy", "BackTrack", "FreeBSD", "OpenBSD", "NetBSD", "BSD", "Solaris", NULL,
};

/* a case-sensitive substring of the raw User-Agent (which may hold NULs) */
static bool raw_has(const ua_subject *s, const char *needle) {
        return memmem(s->raw, s->len, needle, strlen(needle)) != NULL;
}

static bool says_tablet(const ua_subject *s) {
        const char *p = s->raw, *end = s->raw + s->len, *hit;

        while ((hit = memmem(p, (size_t)(end - p), "Tablet", 6)) != NULL) {
                if (!((size_t)(end - hit) >= 9 && memcmp(hit + 6, " PC", 3) == 0))
                        return true;
                p = hit + 6;
        }
        return false;
}

ua_device_type ua_device_classify(const ua_subject *s, const ua_fields *os,
                                  const ua_fields *dev) {
        const char *family = dev->v[0], *brand = dev->v[1], *model = dev->v[2];
        const char *osf = os->v[0];

        if (strcmp(family, "Spider") == 0 || ua_bot_marker(s))
                return UA_DEVICE_BOT;

        for (const char *const *m = other_markers; *m; m++)
                if (ua_subject_has(s, *m, strlen(*m)))
                        return UA_DEVICE_OTHER;
        if (in_list(osf, other_os) || strcmp(brand, "Generic_Inettv") == 0 ||
            strcmp(family, "Apple Watch") == 0)
                return UA_DEVICE_OTHER;

        if (starts(family, "iPad") || starts(model, "iPad") || starts(family, "Kindle") ||
            starts(model, "Kindle") || strstr(family, "Tablet") || strstr(family, "TouchPad") ||
            strstr(family, "Playbook") || strstr(family, "Surface RT") ||
            strcmp(brand, "Generic_Android_Tablet") == 0 || says_tablet(s) ||
            (strcmp(osf, "Android") == 0 && s->len >= 8 && memcmp(s->raw, "Mozilla/", 8) == 0 &&
             !raw_has(s, "Mobi")))
                return UA_DEVICE_TABLET;

        if (starts(family, "iPhone") || starts(family, "iPod") ||
            strcmp(family, "Generic Smartphone") == 0 ||
            strcmp(family, "Generic Feature Phone") == 0 ||
            strcmp(brand, "Generic_Android") == 0 || in_list(osf, mobile_os) ||
            raw_has(s, "Mobi"))
                return UA_DEVICE_MOBILE;

        if (in_list(osf, desktop_os))
                return UA_DEVICE_DESKTOP;
        return UA_DEVICE_OTHER;
}

const char *ua_device_name(ua_device_type t) {
        switch (t) {
        case UA_DEVICE_DESKTOP: return "desktop";
        case UA_DEVICE_MOBILE:  return "mobile";
        case UA_DEVICE_TABLET:  return "tablet";
        case UA_DEVICE_BOT:     return "bot";
        case UA_DEVICE_OTHER:   break;
        }
        return "other";
}

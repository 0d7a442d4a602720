<?php
/**
 * Plugin Name: SpamGuard decisions
 * Description: Applies SpamGuard moderators' decisions to the comments they were about (pull feed).
 * Version: 1.0.0
 *
 * For sites that cannot receive Akismet callbacks or webhooks: every five minutes (WP-Cron) this polls
 * GET SPAMGUARD_URL/api/v1/decisions?since=<cursor> with the site's Akismet key and marks each decided
 * comment spam or approved with wp_set_comment_status(). Comments are found by the GUID SpamGuard
 * answered their comment-check with (kept as comment meta `spamguard_guid`). Needs the Akismet plugin,
 * pointed at SpamGuard (see akismet-spamguard.php).
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}
if ( ! defined( 'SPAMGUARD_URL' ) ) {
	define( 'SPAMGUARD_URL', 'http://127.0.0.1:8000' );
}

const SPAMGUARD_CURSOR_OPTION = 'spamguard_decisions_cursor';
const SPAMGUARD_POLL_EVENT    = 'spamguard_poll_decisions';
const SPAMGUARD_MAX_PAGES     = 20;

/** Remember the GUID of the comment-check answer until the comment is saved in this request. */
add_action( 'akismet_comment_check_response', function ( $response ) {
	$guid = is_array( $response ) && isset( $response[0]['x-akismet-guid'] ) ? (string) $response[0]['x-akismet-guid'] : '';
	$GLOBALS['spamguard_last_guid'] = preg_match( '/^[0-9a-f]{32}$/', $guid ) ? $guid : '';
} );

add_action( 'wp_insert_comment', function ( $comment_id ) {
	if ( ! empty( $GLOBALS['spamguard_last_guid'] ) ) {
		update_comment_meta( $comment_id, 'spamguard_guid', $GLOBALS['spamguard_last_guid'] );
		$GLOBALS['spamguard_last_guid'] = '';
	}
} );

/**
 * Fetch and apply new decisions. Returns the number of comments changed, or a WP_Error.
 */
function spamguard_apply_decisions() {
	$key = class_exists( 'Akismet' ) ? Akismet::get_api_key() : '';
	if ( ! $key ) {
		return new WP_Error( 'spamguard_no_key', 'The Akismet plugin has no API key.' );
	}
	$changed = 0;
	for ( $page = 0; $page < SPAMGUARD_MAX_PAGES; $page++ ) {
		$cursor   = (string) get_option( SPAMGUARD_CURSOR_OPTION, '' );
		$url      = add_query_arg( 'since', rawurlencode( $cursor ), rtrim( SPAMGUARD_URL, '/' ) . '/api/v1/decisions' );
		$response = wp_remote_get( $url, array(
			'timeout' => 15,
			'headers' => array( 'Authorization' => 'Bearer ' . $key, 'Accept' => 'application/json' ),
		) );
		if ( is_wp_error( $response ) ) {
			return $response;
		}
		if ( 200 !== (int) wp_remote_retrieve_response_code( $response ) ) {
			return new WP_Error( 'spamguard_http', 'SpamGuard answered HTTP ' . wp_remote_retrieve_response_code( $response ) );
		}
		$feed = json_decode( wp_remote_retrieve_body( $response ), true );
		if ( ! is_array( $feed ) || ! isset( $feed['decisions'], $feed['next_cursor'] ) || ! is_array( $feed['decisions'] ) ) {
			return new WP_Error( 'spamguard_feed', 'SpamGuard sent an unexpected answer.' );
		}
		foreach ( $feed['decisions'] as $decision ) {
			$changed += spamguard_apply_decision( $decision ) ? 1 : 0;
		}
		// Saved after each page: a crash re-applies at most one page, and applying twice is harmless.
		update_option( SPAMGUARD_CURSOR_OPTION, (string) $feed['next_cursor'], false );
		if ( empty( $feed['has_more'] ) ) {
			break;
		}
	}
	return $changed;
}

function spamguard_apply_decision( $decision ) {
	$guid = isset( $decision['guid'] ) ? (string) $decision['guid'] : '';
	if ( ! preg_match( '/^[0-9a-f]{32}$/', $guid ) || ! in_array( $decision['result'] ?? '', array( 'spam', 'ham' ), true ) ) {
		return false;
	}
	$ids = get_comments( array(
		'meta_key'   => 'spamguard_guid',
		'meta_value' => $guid,
		'status'     => 'all',
		'fields'     => 'ids',
		'number'     => 1,
	) );
	// get_comments() 'all' leaves spam out; look there too.
	if ( ! $ids ) {
		$ids = get_comments( array( 'meta_key' => 'spamguard_guid', 'meta_value' => $guid, 'status' => 'spam',
			'fields' => 'ids', 'number' => 1 ) );
	}
	if ( ! $ids ) {
		return false;
	}
	$comment_id = (int) $ids[0];
	$target     = 'spam' === $decision['result'] ? 'spam' : 'approve';
	$current    = wp_get_comment_status( $comment_id );
	if ( ( 'spam' === $target && 'spam' === $current ) || ( 'approve' === $target && 'approved' === $current ) ) {
		return false;
	}
	$done = wp_set_comment_status( $comment_id, $target );
	if ( $done ) {
		update_comment_meta( $comment_id, 'spamguard_decision', sanitize_key( $decision['source'] ?? '' ) . ':' . $target );
	}
	return (bool) $done;
}

add_action( SPAMGUARD_POLL_EVENT, 'spamguard_apply_decisions' );

add_filter( 'cron_schedules', function ( $schedules ) {
	$schedules['spamguard_five_minutes'] = array( 'interval' => 300, 'display' => 'Every five minutes (SpamGuard)' );
	return $schedules;
} );

register_activation_hook( __FILE__, function () {
	if ( ! wp_next_scheduled( SPAMGUARD_POLL_EVENT ) ) {
		wp_schedule_event( time() + 60, 'spamguard_five_minutes', SPAMGUARD_POLL_EVENT );
	}
} );

register_deactivation_hook( __FILE__, function () {
	wp_clear_scheduled_hook( SPAMGUARD_POLL_EVENT );
} );

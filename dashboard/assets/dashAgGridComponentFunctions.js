// Cell renderers of the ward's grids.  They draw data the server sent
// (rowData); nothing here decides anything clinical.
var dagcomponentfuncs = (window.dashAgGridComponentFunctions =
    window.dashAgGridComponentFunctions || {});

// Navigate inside the app without a reload (Dash's location listens to
// popstate); a modified click (new tab) keeps the browser's behaviour.
function vwNavigate(event, href) {
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) {
        return;
    }
    event.preventDefault();
    window.history.pushState({}, '', href);
    window.dispatchEvent(new PopStateEvent('popstate'));
}

dagcomponentfuncs.PatientLink = function (props) {
    var d = props.data || {};
    return React.createElement('a', {
        href: d.href, className: 'vw-patient-link',
        onClick: function (e) { vwNavigate(e, d.href); }
    }, [
        React.createElement('span', {key: 'n', className: 'vw-patient-name'}, d.name),
        React.createElement('span', {key: 'i', className: 'vw-patient-id'}, d.patient_id)
    ]);
};

dagcomponentfuncs.Sparkline = function (props) {
    if (!props.value) {
        return React.createElement('span', {className: 'vw-muted'}, 'no scores');
    }
    return React.createElement('svg', {
        width: 96, height: 22, viewBox: '0 0 96 22', className: 'vw-spark',
        role: 'img', 'aria-label': 'NEWS2 over the last 24 hours'
    }, [
        // NEWS2 5 (key threshold) on the 0..12 scale of the path.
        React.createElement('line', {key: 't', x1: 0, x2: 96, y1: 12.7, y2: 12.7,
            className: 'vw-spark-threshold'}),
        React.createElement('path', {key: 'p', d: props.value, fill: 'none',
            stroke: 'currentColor', strokeWidth: 1.6, strokeLinejoin: 'round'})
    ]);
};

// A NEWS2 value over its own age ('98' over '11 h'), as the server wrote them
// (dashboard.rows.vital_cells: <key>_value, <key>_age); the cell's classes (sub-score
// colour, is-stale) come from the column's cellClassRules.
dagcomponentfuncs.Vital = function (props) {
    var d = props.data || {};
    var key = props.colDef.field;
    var age = d[key + '_age'];
    return React.createElement('span', {className: 'vw-vital'}, [
        React.createElement('span', {key: 'v', className: 'vw-vital-value'}, d[key + '_value']),
        age ? React.createElement('span', {key: 'a', className: 'vw-vital-age'}, age) : null
    ]);
};
